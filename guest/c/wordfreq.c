/*
 * wordfreq - print the most frequent words of a text.
 *
 * Usage: wordfreq [K] < text
 *
 * Reads all of standard input, splits it into words (maximal runs of ASCII
 * letters and digits; every other byte is a separator), lowercases them and
 * prints the K most frequent words (default 10), one per line, as
 *
 *     <count> <word>
 *
 * sorted by count descending, then by word ascending (byte order).
 * Exit status: 0 on success, 1 on a read or memory error, 2 on bad usage.
 *
 * Plain C99 with no platform-specific calls: it builds natively with gcc or
 * for WebAssembly/WASI with clang --target=wasm32-wasi (see build.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *word;          /* NUL-terminated, points into the input buffer */
    unsigned long count;
};

static struct entry *table; /* open-addressing hash table, size a power of 2 */
static size_t table_cap, table_len;

static void die(const char *msg) {
    fprintf(stderr, "wordfreq: %s\n", msg);
    exit(1);
}

/* FNV-1a hash of a NUL-terminated string. */
static size_t hash(const char *s) {
    size_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Insert without growing; the table must have a free slot. */
static void insert(char *word, unsigned long count) {
    size_t i = hash(word) & (table_cap - 1);
    while (table[i].word && strcmp(table[i].word, word) != 0)
        i = (i + 1) & (table_cap - 1);
    if (!table[i].word) { table[i].word = word; table_len++; }
    table[i].count += count;
}

/* Count one occurrence of word, doubling the table at 50% load. */
static void add_word(char *word) {
    if (2 * (table_len + 1) > table_cap) {
        struct entry *old = table;
        size_t old_cap = table_cap;
        table_cap = old_cap ? 2 * old_cap : 1024;
        table = calloc(table_cap, sizeof *table);
        if (!table) die("out of memory");
        table_len = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].word) insert(old[i].word, old[i].count);
        free(old);
    }
    insert(word, 1);
}

static int is_word_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Order: count descending, then word ascending. */
static int by_count_then_word(const void *a, const void *b) {
    const struct entry *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

/* Read all of stdin into a NUL-terminated heap buffer; *len gets its size. */
static char *read_all(size_t *len) {
    size_t cap = 65536, n = 0, got;
    char *buf = malloc(cap);
    if (!buf) die("out of memory");
    while ((got = fread(buf + n, 1, cap - n - 1, stdin)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *bigger = realloc(buf, cap *= 2);
            if (!bigger) die("out of memory");
            buf = bigger;
        }
    }
    if (ferror(stdin)) die("error reading standard input");
    buf[n] = '\0';
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    long k = 10;
    if (argc > 2) {
        fprintf(stderr, "usage: wordfreq [K] < text\n");
        return 2;
    }
    if (argc == 2) {
        /* A huge K saturates to LONG_MAX (i.e. "all words"): no ERANGE check,
         * so 32-bit long on wasm32 and 64-bit long natively behave alike. */
        char *end;
        k = strtol(argv[1], &end, 10);
        if (end == argv[1] || *end != '\0' || k <= 0) {
            fprintf(stderr, "wordfreq: K must be a positive number, got '%s'\n", argv[1]);
            return 2;
        }
    }

    size_t len;
    char *text = read_all(&len);

    /* Tokenize in place: lowercase word bytes, turn separators into NULs. */
    for (size_t i = 0; i < len;) {
        if (!is_word_byte((unsigned char)text[i])) { text[i++] = '\0'; continue; }
        char *start = text + i;
        for (; i < len && is_word_byte((unsigned char)text[i]); i++)
            if (text[i] >= 'A' && text[i] <= 'Z') text[i] += 'a' - 'A';
        if (i < len) text[i++] = '\0'; /* else the final NUL from read_all ends it */
        add_word(start);
    }

    /* Compact the used slots to the front of the table, then sort them. */
    size_t n = 0;
    for (size_t i = 0; i < table_cap; i++)
        if (table[i].word) table[n++] = table[i];
    if (n > 0) qsort(table, n, sizeof *table, by_count_then_word);

    for (size_t i = 0; i < n && i < (size_t)k; i++)
        printf("%lu %s\n", table[i].count, table[i].word);

    if (fflush(stdout) != 0 || ferror(stdout)) die("error writing standard output");
    free(table);
    free(text);
    return 0;
}
