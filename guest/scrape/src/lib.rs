//! `scrape`: what an HTML page says. `analyze` parses a page (invalid UTF-8
//! is decoded lossily) with `scraper` and returns its title, every link in
//! document order, the number of words in its visible text and its ten most
//! frequent words.
//!
//! - **title**: the text of the first `<title>`, trimmed and with runs of
//!   whitespace collapsed to one space (as browsers do for
//!   `document.title`); `None` when there is none or it is blank.
//! - **links**: every `<a href>`, with `href` as written and `text` the
//!   anchor's text (nested tags included), whitespace collapsed and trimmed.
//! - **words**: maximal runs of alphanumeric characters (Unicode-aware) in
//!   the text of `<body>`, leaving out `<script>`, `<style>`, `<noscript>`
//!   and `<template>`. Block-level elements separate words
//!   (`<p>one</p><p>two</p>` is two words); inline ones such as `<b>` or
//!   `<a>` do not (`un<b>seen</b>` is one).
//! - **top-words**: the ten most frequent words of 3 characters or more,
//!   lowercased, most frequent first, ties in alphabetical order.

use std::collections::HashMap;

use scraper::node::Node;
use scraper::{ElementRef, Html, Selector};

wit_bindgen::generate!({ world: "scrape", path: "../wit" });

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Scrape;

impl Guest for Scrape {
    fn analyze(html: Vec<u8>) -> Page {
        analyze_page(&String::from_utf8_lossy(&html))
    }
}

#[cfg(target_arch = "wasm32")]
export!(Scrape);

/// How many words `top-words` lists.
const TOP_WORDS: usize = 10;

/// The shortest word (in characters) that `top-words` lists.
const MIN_TOP_WORD_CHARS: usize = 3;

/// Elements whose contents are not visible text.
const HIDDEN: &[&str] = &["script", "style", "noscript", "template"];

/// Elements that do not separate words: text on either side of their tags
/// runs together, as it does when a browser renders it.
const INLINE: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var",
];

/// Analyses one page (the logic of `analyze`, callable natively).
pub fn analyze_page(html: &str) -> Page {
    let doc = Html::parse_document(html);
    let title = doc
        .select(&selector("title"))
        .next()
        .map(|t| collapse_whitespace(&t.text().collect::<String>()))
        .filter(|t| !t.is_empty());
    let links = doc
        .select(&selector("a[href]"))
        .map(|a| Link {
            href: a.attr("href").unwrap_or_default().to_owned(),
            text: collapse_whitespace(&a.text().collect::<String>()),
        })
        .collect();
    let body = doc
        .select(&selector("body"))
        .next()
        .unwrap_or_else(|| doc.root_element());
    let text = visible_text(body);
    let (words, top_words) = count_words(&text);
    Page {
        title,
        links,
        words,
        top_words,
    }
}

/// A selector from a constant that is known to parse.
fn selector(css: &str) -> Selector {
    Selector::parse(css).expect("constant selectors parse")
}

/// `text` trimmed, with each run of whitespace replaced by one space.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One step of the walk in [`visible_text`]: a node to visit, or the space
/// that closes a non-inline element once its children have been visited.
/// (Generic so that the tree's node type, from `ego_tree`, need not be named.)
enum Step<N> {
    Visit(N),
    Space,
}

/// The text under `root` that a reader sees, with a space wherever a
/// non-inline element starts or ends. Iterative, so that deeply nested
/// pages cannot overflow the stack.
fn visible_text(root: ElementRef<'_>) -> String {
    let mut text = String::new();
    let mut stack = vec![Step::Visit(*root)];
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Visit(node) => node,
            Step::Space => {
                text.push(' ');
                continue;
            }
        };
        match node.value() {
            Node::Text(t) => text.push_str(t),
            Node::Element(el) => {
                let name = el.name();
                if HIDDEN.contains(&name) {
                    continue;
                }
                if !INLINE.contains(&name) {
                    text.push(' ');
                    stack.push(Step::Space);
                }
                let children: Vec<_> = node.children().collect();
                stack.extend(children.into_iter().rev().map(Step::Visit));
            }
            _ => {}
        }
    }
    text
}

/// The number of words in `text` and its most frequent words of at least
/// [`MIN_TOP_WORD_CHARS`] characters.
fn count_words(text: &str) -> (u64, Vec<WordCount>) {
    let mut total = 0u64;
    let mut counts: HashMap<String, u64> = HashMap::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        total += 1;
        let word = word.to_lowercase();
        if word.chars().count() >= MIN_TOP_WORD_CHARS {
            *counts.entry(word).or_default() += 1;
        }
    }
    let mut top: Vec<WordCount> = counts
        .into_iter()
        .map(|(word, count)| WordCount { word, count })
        .collect();
    top.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.word.cmp(&b.word)));
    top.truncate(TOP_WORDS);
    (total, top)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!DOCTYPE html>
<html><head><title>  Hello,
   World </title><style>p { color: red } .the { }</style></head>
<body>
<h1>Cats and dogs</h1>
<p>The cat sat. The <b>cat</b> ran; the dog sat.</p>
<p><a href="/cats?x=1">All <em>about</em>
   cats</a> and <a href="https://example.com/">dogs</a> <a name="top">no href</a></p>
<script>var cat = "cat cat cat cat the the";</script>
<noscript>enable scripts please</noscript>
</body></html>"#;

    fn words(page: &Page) -> Vec<(&str, u64)> {
        page.top_words
            .iter()
            .map(|w| (w.word.as_str(), w.count))
            .collect()
    }

    #[test]
    fn title_is_trimmed_and_collapsed() {
        assert_eq!(analyze_page(PAGE).title.as_deref(), Some("Hello, World"));
    }

    #[test]
    fn missing_or_blank_title_is_none() {
        assert_eq!(analyze_page("<p>no title</p>").title, None);
        assert_eq!(analyze_page("<title> \n </title><p>x</p>").title, None);
    }

    #[test]
    fn links_in_document_order_with_nested_text() {
        let links: Vec<(String, String)> = analyze_page(PAGE)
            .links
            .into_iter()
            .map(|l| (l.href, l.text))
            .collect();
        assert_eq!(
            links,
            [
                ("/cats?x=1".to_owned(), "All about cats".to_owned()),
                ("https://example.com/".to_owned(), "dogs".to_owned()),
            ]
        );
    }

    #[test]
    fn scripts_styles_and_noscript_are_not_counted() {
        // "Cats and dogs" (3) + "The cat sat The cat ran the dog sat" (9)
        // + "All about cats and dogs no href" (7).
        assert_eq!(analyze_page(PAGE).words, 19);
    }

    #[test]
    fn top_words_by_count_then_alphabetically() {
        assert_eq!(
            words(&analyze_page(PAGE)),
            [
                ("the", 3),
                ("and", 2),
                ("cat", 2),
                ("cats", 2),
                ("dogs", 2),
                ("sat", 2),
                ("about", 1),
                ("all", 1),
                ("dog", 1),
                ("href", 1),
            ]
        );
    }

    #[test]
    fn block_elements_separate_words_inline_ones_do_not() {
        let page =
            analyze_page("<ul><li>one</li><li>two</li></ul><p>un<b>seen</b></p><p>a<br>b</p>");
        assert_eq!(page.words, 5);
        assert_eq!(words(&page), [("one", 1), ("two", 1), ("unseen", 1)]);
    }

    #[test]
    fn words_are_unicode_and_lowercased() {
        let page = analyze_page("<p>ÜBER über Straße — 42 naïve, l'été</p>");
        assert_eq!(page.words, 7);
        assert_eq!(
            words(&page),
            [("über", 2), ("naïve", 1), ("straße", 1), ("été", 1)]
        );
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let page = Scrape::analyze(b"<title>caf\xff</title><p>ok \xfe fine</p>".to_vec());
        assert_eq!(page.title.as_deref(), Some("caf\u{fffd}"));
        assert_eq!(page.words, 2);
    }

    #[test]
    fn empty_input() {
        let page = analyze_page("");
        assert_eq!(page.title, None);
        assert!(page.links.is_empty());
        assert_eq!(page.words, 0);
        assert!(page.top_words.is_empty());
    }

    #[test]
    fn deep_nesting() {
        // The walk is iterative; html5ever's tree builder is quadratic in the
        // depth, which bounds how deep a test can go quickly.
        let html = format!("{}deep{}", "<div>".repeat(2_000), "</div>".repeat(2_000));
        assert_eq!(analyze_page(&html).words, 1);
    }

    /// The sample pages in `examples/data/pages`, as the end-to-end tests see them.
    #[test]
    fn sample_pages() {
        let index = analyze_page(include_str!("../../../examples/data/pages/index.html"));
        assert_eq!(
            index.title.as_deref(),
            Some("wpool: a worker pool for WebAssembly")
        );
        assert_eq!(index.words, 85);
        assert_eq!(index.links.len(), 6);
        assert_eq!(index.links[3].text, "the sandbox model");
        assert_eq!(index.links[5].href, "https://webassembly.org/");
        assert_eq!(&words(&index)[..3], [("the", 8), ("pool", 3), ("task", 3)]);

        let wasm = analyze_page(include_str!("../../../examples/data/pages/wasm.html"));
        assert_eq!(wasm.title.as_deref(), Some("WebAssembly sandboxes"));
        assert_eq!(wasm.words, 83);
        assert_eq!(wasm.links.len(), 4);
        assert_eq!(wasm.links[2].text, "overview");
        assert_eq!(
            &words(&wasm)[..3],
            [("the", 9), ("memory", 5), ("bounds", 3)]
        );

        let pools = analyze_page(include_str!("../../../examples/data/pages/pools.html"));
        assert_eq!(pools.title.as_deref(), Some("Worker pools"));
        assert_eq!(pools.words, 94);
        assert_eq!(pools.links.len(), 5);
        assert_eq!(pools.links[4].text, "the thread pool pattern");
        assert_eq!(
            &words(&pools)[..3],
            [("the", 7), ("task", 5), ("worker", 5)]
        );
    }
}
