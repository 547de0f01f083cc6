//! Turning what staff type into an FTS5 query: words (each also matching
//! as a prefix, so results come as you type), "quoted phrases", and phone
//! numbers in any notation (`+91 98888-8`) as a prefix of the phone.

/// The FTS5 query for `input`, or `None` when there is nothing to search.
pub fn fts_query(input: &str) -> Option<String> {
    let input = input.trim();
    if input.is_empty() {
        return None;
    }
    if is_phone_like(input) {
        let digits: String = input.chars().filter(char::is_ascii_digit).collect();
        return Some(format!("phone : {}*", quote(&digits)));
    }
    let mut terms = Vec::new();
    for (i, part) in input.split('"').enumerate() {
        // Odd parts sit between quotes: phrases, matched exactly.
        if i % 2 == 1 {
            if !part.trim().is_empty() {
                terms.push(quote(part.trim()));
            }
            continue;
        }
        terms.extend(
            part.split_whitespace()
                .filter(|word| word.chars().any(char::is_alphanumeric))
                .map(|word| format!("{}*", quote(word))),
        );
    }
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Digits with the usual phone punctuation, and at least three digits.
fn is_phone_like(input: &str) -> bool {
    let digits = input.chars().filter(char::is_ascii_digit).count();
    digits >= 3
        && input
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// An FTS5 string: double quotes inside are doubled.
fn quote(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_prefix_terms_that_must_all_match() {
        assert_eq!(
            fts_query("order help").as_deref(),
            Some(r#""order"* "help"*"#)
        );
    }

    #[test]
    fn quoted_phrases_match_exactly() {
        assert_eq!(
            fts_query(r#"where "my order" is"#).as_deref(),
            Some(r#""where"* "my order" "is"*"#)
        );
    }

    #[test]
    fn phone_numbers_in_any_notation_search_the_phone_prefix() {
        assert_eq!(
            fts_query("+91 98888-8").as_deref(),
            Some(r#"phone : "91988888"*"#)
        );
        assert_eq!(fts_query("9198").as_deref(), Some(r#"phone : "9198"*"#));
    }

    #[test]
    fn punctuation_and_fts_syntax_cannot_break_the_query() {
        assert_eq!(fts_query("   "), None);
        assert_eq!(fts_query("* - ( )"), None);
        assert_eq!(fts_query(r#"a"b"#).as_deref(), Some(r#""a"* "b""#));
        assert_eq!(
            fts_query("NEAR(x) OR y").as_deref(),
            Some(r#""NEAR(x)"* "OR"* "y"*"#)
        );
    }

    #[test]
    fn non_latin_words_are_kept() {
        assert_eq!(fts_query("नमस्ते").as_deref(), Some("\"नमस्ते\"*"));
    }
}
