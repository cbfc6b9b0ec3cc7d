//! Text a person typed: what counts as visible.

/// Characters that take no space on screen: format characters (zero-width
/// spaces and joiners, direction marks and embeddings, the byte-order mark,
/// the soft hyphen), which a name made only of would render as nothing.
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Whether a text shows at least one character.
pub fn has_visible(s: &str) -> bool {
    s.chars().any(|c| !is_invisible(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_width_text_is_not_visible() {
        assert!(has_visible("Alex Morgan"));
        assert!(has_visible("\u{200B}A"));
        assert!(has_visible("藤原"));
        for blank in [
            "",
            "   ",
            "\u{200B}\u{200C}\u{200D}",
            "\u{FEFF}\u{2060}",
            "\u{00AD}\t",
        ] {
            assert!(!has_visible(blank), "{blank:?}");
        }
    }
}
