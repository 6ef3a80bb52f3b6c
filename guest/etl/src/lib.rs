//! `etl`: CSV in, filtered, projected and aggregated CSV or JSON out.
//!
//! `transform` reads CSV with a header row (invalid UTF-8 is decoded
//! lossily), then, in this order:
//!
//! 1. **filters** the rows: every condition `column op value` must hold. The
//!    operator is the first of `==`, `!=`, `<`, `<=`, `>`, `>=` or the word
//!    `contains` in the text, spaces around it are optional
//!    (`units>=3`, `units >= 3`), and the value may be quoted (`"Gizmo, deluxe"`
//!    or `'a b'`) to keep leading or trailing spaces or a leading `=`, `!`,
//!    `<` or `>`. Comparisons are numeric when the cell and the value both
//!    parse as finite numbers, else textual (by code point); `contains` is a
//!    case-sensitive substring test;
//! 2. **groups** them by `group-by`, one row per group sorted by the group
//!    value (numbers first, in numeric order, then text), with columns
//!    `<group>`, `count` and, given a `measure`, `sum_<measure>` and
//!    `mean_<measure>`. Aggregates are rounded to 9 decimal places with
//!    trailing zeros dropped (`37.48`, not `37.480000000000004`);
//! 3. **projects** onto `columns`, in order (among the grouped columns when
//!    grouping); none means all;
//! 4. **writes** `csv` (header row, `\n` line ends) or `json`: an array of
//!    objects, one per line, keys in column order, values that parse as
//!    numbers written as JSON numbers and the rest as strings.
//!
//! Errors name what is wrong and list the valid choices:
//! ``filter `prize > 3`: unknown column `prize`; columns are `region`, `price` ``.

// The canonical-ABI glue that `generate!` writes for `transform` takes the
// flattened `query` record as 14 core parameters (a lint attribute on the
// macro call itself would be ignored).
#![allow(clippy::too_many_arguments)]

use std::cmp::Ordering;
use std::collections::HashMap;

wit_bindgen::generate!({ world: "etl", path: "../wit" });

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Etl;

impl Guest for Etl {
    fn transform(csv: Vec<u8>, query: Query) -> Result<String, String> {
        run_query(&csv, &query)
    }
}

#[cfg(target_arch = "wasm32")]
export!(Etl);

/// The operators a filter may use, in the order the error message lists them.
const OPERATORS: &str = "==, !=, <, <=, >, >=, contains";

/// The output formats.
#[derive(Clone, Copy)]
enum Format {
    Csv,
    Json,
}

/// A comparison operator of a filter.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
}

/// A parsed filter: `cells[column] op value`.
struct Condition {
    column: usize,
    op: Op,
    value: String,
    /// `value` as a number, when it is one.
    number: Option<f64>,
}

impl Condition {
    fn holds(&self, cell: &str) -> bool {
        let ordering = match self.op {
            Op::Contains => return cell.contains(&self.value),
            _ => match (number(cell), self.number) {
                (Some(a), Some(b)) => a.total_cmp(&b),
                _ => cell.cmp(&self.value),
            },
        };
        match self.op {
            Op::Eq => ordering.is_eq(),
            Op::Ne => ordering.is_ne(),
            Op::Lt => ordering.is_lt(),
            Op::Le => ordering.is_le(),
            Op::Gt => ordering.is_gt(),
            Op::Ge => ordering.is_ge(),
            Op::Contains => unreachable!("handled above"),
        }
    }
}

/// The table being transformed: a header and rows of cells.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Runs `query` over `csv` (the logic of `transform`, callable natively).
pub fn run_query(csv: &[u8], query: &Query) -> Result<String, String> {
    let format = match query.format.as_str() {
        "csv" => Format::Csv,
        "json" => Format::Json,
        other => {
            return Err(format!(
                "unknown format `{other}`; formats are `csv`, `json`"
            ));
        }
    };
    let text = String::from_utf8_lossy(csv);
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("reading the csv header: {e}"))?
        .iter()
        .map(str::to_owned)
        .collect();
    if header.is_empty() {
        return Err("the csv is empty: expected a header row".to_owned());
    }

    let conditions = query
        .filter
        .iter()
        .map(|f| parse_condition(f, &header))
        .collect::<Result<Vec<_>, _>>()?;
    let group = match (&query.group_by, &query.measure) {
        (Some(g), m) => Some((
            find_column(&header, g, "`group-by`")?,
            m.as_deref()
                .map(|m| find_column(&header, m, "`measure`"))
                .transpose()?,
        )),
        (None, Some(m)) => {
            return Err(format!(
                "`measure` `{m}` needs `group-by`: set it to the column to aggregate per value of"
            ));
        }
        (None, None) => None,
    };
    // Check the projection before reading the rows, when it refers to them.
    let columns = match group {
        None => Some(project(&header, &query.columns)?),
        Some(_) => None,
    };

    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("reading csv row {}: {e}", i + 1))?;
        if conditions.iter().all(|c| c.holds(&record[c.column])) {
            let line = record.position().map_or(0, |p| p.line());
            rows.push((i + 1, line, record.iter().map(str::to_owned).collect()));
        }
    }

    let table = match group {
        None => Table {
            header,
            rows: rows.into_iter().map(|(_, _, row)| row).collect(),
        },
        Some((by, measure)) => aggregate(&header, rows, by, measure)?,
    };
    let columns = match columns {
        Some(columns) => columns,
        None => project(&table.header, &query.columns)?,
    };
    let header: Vec<&str> = columns.iter().map(|&c| table.header[c].as_str()).collect();
    let rows = table
        .rows
        .iter()
        .map(|row| columns.iter().map(|&c| row[c].as_str()).collect());
    match format {
        Format::Csv => write_csv(&header, rows),
        Format::Json => Ok(write_json(&header, rows)),
    }
}

/// Parses `text`, splitting it at the first operator.
fn parse_condition(text: &str, header: &[String]) -> Result<Condition, String> {
    let malformed =
        || format!("filter `{text}`: expected `column op value` with op one of {OPERATORS}");
    let (at, op, len) = find_operator(text).ok_or_else(malformed)?;
    let column = text[..at].trim();
    let value = text[at + len..].trim();
    let value = match unquote(value) {
        Some(quoted) => quoted,
        None if value.is_empty() || value.starts_with(['=', '!', '<', '>']) => {
            return Err(malformed());
        }
        None => value,
    };
    if column.is_empty() || column.contains(['=', '!']) {
        return Err(malformed());
    }
    Ok(Condition {
        column: find_column(header, column, &format!("filter `{text}`"))?,
        op,
        number: number(value),
        value: value.to_owned(),
    })
}

/// The byte offset, operator and length of the first operator in `text`:
/// the longest symbol starting at the earliest position, or `contains` as a
/// word between spaces.
fn find_operator(text: &str) -> Option<(usize, Op, usize)> {
    const SYMBOLS: [(&str, Op); 6] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];
    for (at, c) in text.char_indices() {
        let rest = &text[at..];
        if let Some(&(symbol, op)) = SYMBOLS.iter().find(|(s, _)| rest.starts_with(s)) {
            return Some((at, op, symbol.len()));
        }
        if c.is_whitespace() {
            let word = rest.trim_start();
            if let Some(after) = word.strip_prefix("contains")
                && after.starts_with(char::is_whitespace)
                && !text[..at].trim().is_empty()
            {
                return Some((at, Op::Contains, rest.len() - after.len()));
            }
        }
    }
    None
}

/// `value` without the matching quotes around it, if it has them.
fn unquote(value: &str) -> Option<&str> {
    ['"', '\'']
        .into_iter()
        .find_map(|q| value.strip_prefix(q).and_then(|v| v.strip_suffix(q)))
}

/// The index of the column `name`, or an error listing the columns.
fn find_column(header: &[String], name: &str, context: &str) -> Result<usize, String> {
    header.iter().position(|h| h == name).ok_or_else(|| {
        let names: Vec<String> = header.iter().map(|h| format!("`{h}`")).collect();
        format!(
            "{context}: unknown column `{name}`; columns are {}",
            names.join(", ")
        )
    })
}

/// The indices of `columns` in `header`; all of them when `columns` is empty.
fn project(header: &[String], columns: &[String]) -> Result<Vec<usize>, String> {
    if columns.is_empty() {
        return Ok((0..header.len()).collect());
    }
    columns
        .iter()
        .map(|c| find_column(header, c, "`columns`"))
        .collect()
}

/// `text` as a finite number, if it is one (surrounding spaces allowed).
fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A total order on group values: numbers first, by value, then text.
fn group_order(a: &str, b: &str) -> Ordering {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y).then_with(|| a.cmp(b)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// One row per value of column `by`: its count and, given a `measure`
/// column, the sum and mean of that column. `rows` are (row number, line,
/// cells).
fn aggregate(
    header: &[String],
    rows: Vec<(usize, u64, Vec<String>)>,
    by: usize,
    measure: Option<usize>,
) -> Result<Table, String> {
    let mut groups: HashMap<String, (u64, f64)> = HashMap::new();
    for (row, line, mut cells) in rows {
        let add = match measure {
            Some(m) => number(&cells[m]).ok_or_else(|| {
                format!(
                    "`measure` `{}`: row {row} (line {line}) has `{}`, which is not a number",
                    header[m], cells[m]
                )
            })?,
            None => 0.0,
        };
        let group = groups.entry(std::mem::take(&mut cells[by])).or_default();
        group.0 += 1;
        group.1 += add;
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| group_order(&a.0, &b.0));

    let mut out_header = vec![header[by].clone(), "count".to_owned()];
    if let Some(m) = measure {
        out_header.push(format!("sum_{}", header[m]));
        out_header.push(format!("mean_{}", header[m]));
    }
    let rows = groups
        .into_iter()
        .map(|(value, (count, sum))| {
            let mut row = vec![value, count.to_string()];
            if measure.is_some() {
                row.push(format_aggregate(sum));
                row.push(format_aggregate(sum / count as f64));
            }
            row
        })
        .collect();
    Ok(Table {
        header: out_header,
        rows,
    })
}

/// `x` rounded to 9 decimal places, without trailing zeros (`120`, `37.48`).
fn format_aggregate(x: f64) -> String {
    let text = format!("{x:.9}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    match text {
        "-0" => "0".to_owned(),
        t => t.to_owned(),
    }
}

fn write_csv<'a>(
    header: &[&str],
    rows: impl Iterator<Item = Vec<&'a str>>,
) -> Result<String, String> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    let fail = |e: ::csv::Error| format!("writing csv: {e}");
    writer.write_record(header).map_err(fail)?;
    for row in rows {
        writer.write_record(&row).map_err(fail)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| format!("writing csv: {}", e.error()))?;
    String::from_utf8(bytes).map_err(|e| format!("writing csv: {e}"))
}

/// An array of objects, one per line, keys in column order.
fn write_json<'a>(header: &[&str], rows: impl Iterator<Item = Vec<&'a str>>) -> String {
    let keys: Vec<String> = header.iter().map(|h| json_string(h)).collect();
    let mut out = String::from("[");
    for (i, row) in rows.enumerate() {
        out.push_str(if i == 0 { "\n  {" } else { ",\n  {" });
        for (j, (key, cell)) in keys.iter().zip(row).enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(key);
            out.push(':');
            out.push_str(&json_value(cell));
        }
        out.push('}');
    }
    out.push_str(if out.len() > 1 { "\n]\n" } else { "]\n" });
    out
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// `cell` as a JSON number when it is one, else as a JSON string.
fn json_value(cell: &str) -> String {
    if let Ok(n) = cell.trim().parse::<i64>() {
        return n.to_string();
    }
    match number(cell).and_then(serde_json::Number::from_f64) {
        Some(n) => n.to_string(),
        None => json_string(cell),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "\
region,product,price,units
North,Widget,4.99,3
South,\"Gizmo, deluxe\",24.00,1
North,Gadget,12.50,10
East,Widget,4.99,12
South,Widget,5.49,2
";

    fn query(
        filter: &[&str],
        columns: &[&str],
        group_by: Option<&str>,
        measure: Option<&str>,
        format: &str,
    ) -> Query {
        Query {
            filter: filter.iter().map(|s| s.to_string()).collect(),
            columns: columns.iter().map(|s| s.to_string()).collect(),
            group_by: group_by.map(str::to_owned),
            measure: measure.map(str::to_owned),
            format: format.to_owned(),
        }
    }

    fn csv(filter: &[&str], columns: &[&str]) -> Result<String, String> {
        run_query(CSV.as_bytes(), &query(filter, columns, None, None, "csv"))
    }

    fn grouped(group_by: &str, measure: Option<&str>, columns: &[&str]) -> Result<String, String> {
        run_query(
            CSV.as_bytes(),
            &query(&[], columns, Some(group_by), measure, "csv"),
        )
    }

    #[test]
    fn no_query_copies_the_table() {
        assert_eq!(csv(&[], &[]).unwrap(), CSV);
    }

    #[test]
    fn filter_and_project() {
        assert_eq!(
            csv(&["region == North"], &["product", "price"]).unwrap(),
            "product,price\nWidget,4.99\nGadget,12.50\n"
        );
        assert_eq!(
            csv(&["region != North", "units>=2"], &["units", "region"]).unwrap(),
            "units,region\n12,East\n2,South\n"
        );
    }

    #[test]
    fn numbers_compare_as_numbers_text_as_text() {
        // Numerically 10 and 12 exceed 9; as text neither would.
        assert_eq!(csv(&["units > 9"], &["units"]).unwrap(), "units\n10\n12\n");
        assert_eq!(csv(&["price == 24"], &["price"]).unwrap(), "price\n24.00\n");
        // Text against a non-number compares by code point.
        assert_eq!(
            csv(&["product < H"], &["product"]).unwrap(),
            "product\n\"Gizmo, deluxe\"\nGadget\n"
        );
        assert_eq!(
            csv(&["units < 3x"], &["units"]).unwrap(),
            "units\n3\n1\n10\n12\n2\n"
        );
    }

    #[test]
    fn contains_and_quoted_values() {
        assert_eq!(
            csv(&["product contains dget"], &["product"]).unwrap(),
            "product\nWidget\nGadget\nWidget\nWidget\n"
        );
        assert_eq!(
            csv(&["product contains \", d\""], &["region"]).unwrap(),
            "region\nSouth\n"
        );
        assert_eq!(
            csv(&["product == 'Gizmo, deluxe'"], &["price"]).unwrap(),
            "price\n24.00\n"
        );
    }

    #[test]
    fn quoted_fields_with_commas_survive() {
        assert_eq!(
            csv(&["region == South"], &[]).unwrap(),
            "region,product,price,units\nSouth,\"Gizmo, deluxe\",24.00,1\nSouth,Widget,5.49,2\n"
        );
    }

    #[test]
    fn group_and_aggregate() {
        // North: 4.99 + 12.50 = 17.490000000000002 in binary, shown rounded.
        assert_eq!(
            grouped("region", Some("price"), &[]).unwrap(),
            "region,count,sum_price,mean_price\n\
             East,1,4.99,4.99\n\
             North,2,17.49,8.745\n\
             South,2,29.49,14.745\n"
        );
        assert_eq!(
            grouped("product", None, &[]).unwrap(),
            "product,count\nGadget,1\n\"Gizmo, deluxe\",1\nWidget,3\n"
        );
        assert_eq!(
            grouped("region", Some("units"), &["mean_units", "region"]).unwrap(),
            "mean_units,region\n12,East\n6.5,North\n1.5,South\n"
        );
    }

    #[test]
    fn groups_sort_numbers_numerically_then_text() {
        let data = "k,v\n10,1\nb,2\n9,3\na,4\n9,5\n";
        let out = run_query(
            data.as_bytes(),
            &query(&[], &[], Some("k"), Some("v"), "csv"),
        );
        assert_eq!(
            out.unwrap(),
            "k,count,sum_v,mean_v\n9,2,8,4\n10,1,1,1\na,1,4,4\nb,1,2,2\n"
        );
    }

    #[test]
    fn filter_then_group() {
        let q = query(&["units >= 3"], &[], Some("region"), Some("units"), "csv");
        assert_eq!(
            run_query(CSV.as_bytes(), &q).unwrap(),
            "region,count,sum_units,mean_units\nEast,1,12,12\nNorth,2,13,6.5\n"
        );
    }

    #[test]
    fn json_output() {
        let q = query(
            &["region == South"],
            &["product", "price", "region"],
            None,
            None,
            "json",
        );
        let out = run_query(CSV.as_bytes(), &q).unwrap();
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            value,
            serde_json::json!([
                {"product": "Gizmo, deluxe", "price": 24.0, "region": "South"},
                {"product": "Widget", "price": 5.49, "region": "South"},
            ])
        );
        // Keys keep the column order.
        assert!(out.contains(r#"{"product":"Gizmo, deluxe","price":24.0,"region":"South"}"#));

        let q = query(&[], &[], Some("region"), Some("units"), "json");
        let out = run_query(CSV.as_bytes(), &q).unwrap();
        assert_eq!(
            out,
            "[\n  \
             {\"region\":\"East\",\"count\":1,\"sum_units\":12,\"mean_units\":12},\n  \
             {\"region\":\"North\",\"count\":2,\"sum_units\":13,\"mean_units\":6.5},\n  \
             {\"region\":\"South\",\"count\":2,\"sum_units\":3,\"mean_units\":1.5}\n]\n"
        );

        let q = query(&["units > 100"], &[], None, None, "json");
        assert_eq!(run_query(CSV.as_bytes(), &q).unwrap(), "[]\n");
    }

    #[test]
    fn unknown_columns_are_named() {
        let columns = "columns are `region`, `product`, `price`, `units`";
        assert_eq!(
            csv(&["prize > 3"], &[]).unwrap_err(),
            format!("filter `prize > 3`: unknown column `prize`; {columns}")
        );
        assert_eq!(
            csv(&[], &["region", "prize"]).unwrap_err(),
            format!("`columns`: unknown column `prize`; {columns}")
        );
        assert_eq!(
            grouped("regio", None, &[]).unwrap_err(),
            format!("`group-by`: unknown column `regio`; {columns}")
        );
        assert_eq!(
            grouped("region", Some("cost"), &[]).unwrap_err(),
            format!("`measure`: unknown column `cost`; {columns}")
        );
        assert_eq!(
            grouped("region", Some("price"), &["units"]).unwrap_err(),
            "`columns`: unknown column `units`; columns are `region`, `count`, `sum_price`, `mean_price`"
        );
    }

    #[test]
    fn malformed_filters_are_rejected() {
        for bad in [
            "price >> 3",
            "price = 3",
            "price",
            "== 3",
            "price >",
            "price => 3",
            "price <=> 3",
            "price contains",
        ] {
            assert_eq!(
                csv(&[bad], &[]).unwrap_err(),
                format!(
                    "filter `{bad}`: expected `column op value` with op one of ==, !=, <, <=, >, >=, contains"
                ),
            );
        }
    }

    #[test]
    fn unknown_format() {
        let q = query(&[], &[], None, None, "xml");
        assert_eq!(
            run_query(CSV.as_bytes(), &q).unwrap_err(),
            "unknown format `xml`; formats are `csv`, `json`"
        );
    }

    #[test]
    fn measure_must_be_numeric() {
        assert_eq!(
            grouped("region", Some("product"), &[]).unwrap_err(),
            "`measure` `product`: row 1 (line 2) has `Widget`, which is not a number"
        );
        let q = query(&[], &[], None, Some("price"), "csv");
        assert!(
            run_query(CSV.as_bytes(), &q)
                .unwrap_err()
                .contains("needs `group-by`")
        );
    }

    #[test]
    fn bad_csv_is_an_error() {
        let err = run_query(b"a,b\n1,2\n3\n", &query(&[], &[], None, None, "csv")).unwrap_err();
        assert!(err.starts_with("reading csv row 2: "), "{err}");
        let err = run_query(b"", &query(&[], &[], None, None, "csv")).unwrap_err();
        assert_eq!(err, "the csv is empty: expected a header row");
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let out = Etl::transform(
            b"name\ncaf\xff\n".to_vec(),
            query(&[], &[], None, None, "csv"),
        );
        assert_eq!(out.unwrap(), "name\ncaf\u{fffd}\n");
    }

    /// The sample data in `examples/data/sales.csv`, as the end-to-end tests see it.
    #[test]
    fn sample_sales() {
        let sales = include_bytes!("../../../examples/data/sales.csv");
        let q = query(&["units >= 3"], &[], Some("region"), Some("price"), "csv");
        assert_eq!(
            run_query(sales, &q).unwrap(),
            "region,count,sum_price,mean_price\n\
             East,7,82.71,11.815714286\n\
             North,8,67.97,8.49625\n\
             South,11,158.72,14.429090909\n\
             West,8,76.71,9.58875\n"
        );
        let q = query(
            &["region == East", "date >= 2024-02-15"],
            &["date", "product", "units"],
            None,
            None,
            "json",
        );
        assert_eq!(
            run_query(sales, &q).unwrap(),
            "[\n  \
             {\"date\":\"2024-02-17\",\"product\":\"Sprocket\",\"units\":6},\n  \
             {\"date\":\"2024-02-20\",\"product\":\"Cable, 2 m\",\"units\":2},\n  \
             {\"date\":\"2024-02-22\",\"product\":\"Gadget\",\"units\":9},\n  \
             {\"date\":\"2024-02-29\",\"product\":\"Gizmo, deluxe\",\"units\":3}\n]\n"
        );
        let q = query(&[], &[], Some("product"), Some("units"), "csv");
        assert_eq!(
            run_query(sales, &q).unwrap(),
            "product,count,sum_units,mean_units\n\
             \"Cable, 2 m\",4,24,6\n\
             Gadget,12,96,8\n\
             \"Gizmo, deluxe\",7,48,6.857142857\n\
             Sprocket,8,51,6.375\n\
             Widget,9,63,7\n"
        );
    }
}
