//! Engine text shown to a person: user names, NAS identifiers, interface
//! names and every other string a NAS or engine chose are data, never
//! terminal control. [`Escaped`] writes C0/C1 control characters and the
//! invisible characters that reorder or hide text (bidirectional controls,
//! zero-width characters, line and paragraph separators) as visible
//! escapes: `\x1b`, `\u{202e}`. Everything else, backslashes included
//! (`CORP\alice` stays readable), is written as it is. JSON output does not
//! use this: JSON's own escaping keeps the text exact.

use std::fmt::{self, Display, Write};

/// Displays a string with its control and invisible characters escaped.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

/// True for a character that must not reach a terminal raw.
pub fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}'                   // Arabic letter mark
            | '\u{200b}'..='\u{200f}'    // zero-width space/joiners, LRM, RLM
            | '\u{2028}' | '\u{2029}'    // line and paragraph separators
            | '\u{202a}'..='\u{202e}'    // bidirectional embeddings and overrides
            | '\u{2060}'..='\u{2064}'    // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}'    // bidirectional isolates
            | '\u{feff}'                 // zero-width no-break space
            | '\u{fff9}'..='\u{fffb}') // interlinear annotation
}

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            if (c as u32) < 0x100 {
                write!(f, "\\x{:02x}", c as u32)?;
            } else {
                write!(f, "\\u{{{:04x}}}", c as u32)?;
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// The escaped text as an owned string (borrowed when nothing needed escaping).
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(needs_escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let _ = write!(out, "{}", Escaped(text));
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_invisibles_are_visible_and_the_rest_is_untouched() {
        assert_eq!(escape("CORP\\alice"), "CORP\\alice");
        assert_eq!(escape("ümlaut 名前"), "ümlaut 名前");
        assert_eq!(escape("evil\x1b[2J\x07"), "evil\\x1b[2J\\x07");
        assert_eq!(escape("a\u{9b}31m"), "a\\x9b31m", "C1 CSI");
        assert_eq!(escape("x\ny\tz\r\x7f"), "x\\x0ay\\x09z\\x0d\\x7f");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape("\u{feff}\u{200b}"), "\\u{feff}\\u{200b}");
        assert!(matches!(escape("plain"), std::borrow::Cow::Borrowed(_)));
    }

    proptest::proptest! {
        #[test]
        fn output_never_holds_a_character_that_needs_escaping(s in "\\PC*|[\\x00-\\x{ff}\\u{2000}-\\u{206f}]*") {
            let out = escape(&s);
            proptest::prop_assert!(!out.contains(needs_escape));
            if !s.contains(needs_escape) {
                proptest::prop_assert_eq!(out.as_ref(), s.as_str());
            }
        }
    }
}
