//! Parser errors (serde_json, serde-saphyr) in our words, for every module that reads JSON or
//! YAML: the catalog, the configs, the predictor's measurements and the search space. A ground
//! floor of its own so none of them imports another just for its messages.

/// A serde_json error's message without its trailing ` at line L column C`, for messages that
/// state the position themselves.
pub fn json_message(e: &serde_json::Error) -> String {
    let m = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    m.strip_suffix(&suffix).map(str::to_string).unwrap_or(m)
}

/// A serde-saphyr error in our words: no `error: ` prefix (the binary adds its own), no hints
/// about the library's options, and `source_name` instead of `<input>` in the snippet.
pub fn yaml_message(e: &serde_saphyr::Error, source_name: &str) -> String {
    tidy_yaml_message(&e.to_string(), source_name)
}

fn tidy_yaml_message(m: &str, source_name: &str) -> String {
    const HINT: &str = ", set DuplicateKeyPolicy in Options if acceptable";
    let m = m.strip_prefix("error: ").unwrap_or(m);
    let lines: Vec<String> = m
        .lines()
        .map(|l| {
            let l = l.replace(HINT, "");
            match l.split_once("duplicate mapping key") {
                Some((head, key)) => match key.strip_prefix(": ") {
                    Some(k) => format!("{head}duplicate key `{k}`"),
                    None => format!("{head}duplicate key{key}"),
                },
                None => l,
            }
        })
        .collect();
    lines.join("\n").replace("<input>", source_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_messages_lose_library_hints_and_prefixes() {
        let m = tidy_yaml_message(
            "error: line 32 column 1: duplicate mapping key: seed, set DuplicateKeyPolicy in Options if acceptable\n  --> <input>:32:1",
            "sim.yaml",
        );
        assert_eq!(
            m,
            "line 32 column 1: duplicate key `seed`\n  --> sim.yaml:32:1"
        );
        let m = tidy_yaml_message(
            "line 2 column 1: duplicate mapping key, set DuplicateKeyPolicy in Options if acceptable",
            "x",
        );
        assert_eq!(m, "line 2 column 1: duplicate key");
        let e = serde_saphyr::from_str::<std::collections::BTreeMap<String, u32>>("a: 1\na: 2\n")
            .unwrap_err();
        let m = yaml_message(&e, "f.yaml");
        assert!(
            m.contains("duplicate key `a`") && !m.contains("Options") && !m.starts_with("error"),
            "{m}"
        );
    }
}
