//! One table model rendered two ways (Markdown and HTML), so the best-configs tables in
//! `best_configs.md` and `report.html` cannot drift apart.

/// One cell: display text plus an optional numeric sort key (HTML tables sort on it).
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub text: String,
    pub sort: Option<f64>,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            text: s.into(),
            sort: None,
        }
    }

    pub fn num(text: impl Into<String>, key: Option<f64>) -> Cell {
        Cell {
            text: text.into(),
            sort: key,
        }
    }
}

/// A header row and body rows; `numeric[i]` right-aligns column `i`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub headers: Vec<String>,
    pub numeric: Vec<bool>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn column(&mut self, header: impl Into<String>, numeric: bool) {
        self.headers.push(header.into());
        self.numeric.push(numeric);
    }

    /// GitHub-flavoured Markdown; `|` and line breaks in cells are escaped so a name cannot
    /// break the table.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        s.push('|');
        for h in &self.headers {
            s.push_str(&format!(" {} |", md_cell(h)));
        }
        s.push_str("\n|");
        for &n in &self.numeric {
            s.push_str(if n { "---:|" } else { "---|" });
        }
        s.push('\n');
        for row in &self.rows {
            s.push('|');
            for c in row {
                s.push_str(&format!(" {} |", md_cell(&c.text)));
            }
            s.push('\n');
        }
        s
    }

    /// An HTML table; `sortable` adds the class the page's script hooks onto.
    pub fn to_html(&self, sortable: bool) -> String {
        let mut s = String::new();
        s.push_str(if sortable {
            "<table class=\"sortable\">\n<thead><tr>"
        } else {
            "<table>\n<thead><tr>"
        });
        for (h, &n) in self.headers.iter().zip(&self.numeric) {
            let class = if n { " class=\"num\"" } else { "" };
            s.push_str(&format!("<th{class}>{}</th>", esc(h)));
        }
        s.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            s.push_str("<tr>");
            for (i, c) in row.iter().enumerate() {
                let num = self.numeric.get(i).copied().unwrap_or(false);
                let class = if num { " class=\"num\"" } else { "" };
                let key = match c.sort {
                    Some(k) if k.is_finite() => format!(" data-v=\"{k}\""),
                    _ => String::new(),
                };
                s.push_str(&format!("<td{class}{key}>{}</td>", esc(&c.text)));
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</tbody>\n</table>\n");
        s
    }
}

fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes Markdown inline text (outside tables): characters that would start emphasis, code
/// or HTML. `_` is left alone: inside identifiers like `max_tokens_in_batch` GFM does not
/// treat it as emphasis, and escaping it would clutter the raw text.
pub(crate) fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '*' | '`' | '<' | '>' | '[' | ']' | '|' | '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::default();
        t.column("name", false);
        t.column("qps", true);
        t.rows
            .push(vec![Cell::text("a|b<c>"), Cell::num("1.5", Some(1.5))]);
        t
    }

    #[test]
    fn markdown_escapes_pipes() {
        let md = sample().to_markdown();
        assert!(md.contains("a\\|b<c>"));
        assert!(md.contains("|---|---:|"));
        assert_eq!(md.lines().count(), 3);
    }

    #[test]
    fn html_escapes_and_keys() {
        let h = sample().to_html(true);
        assert!(h.contains("a|b&lt;c&gt;"));
        assert!(h.contains("data-v=\"1.5\""));
        assert!(h.contains("class=\"sortable\""));
    }

    #[test]
    fn markdown_text_escapes() {
        assert_eq!(md_text("a_b*c<d>"), "a_b\\*c\\<d\\>");
    }
}
