//! The configuration reference, from one source: the shipped, commented
//! `dist/rrasd.toml`. It becomes the rrasd.toml(5) manual page
//! (`rrasd --print-config-man`) and docs/configuration.md
//! (`rrasd --print-config-reference`; a test keeps the checked-in file equal
//! to it), so the file operators edit, the man page and the docs cannot
//! drift apart — and tests/check_config.rs proves every key in it parses.

/// The shipped configuration file.
pub const SHIPPED: &str = include_str!("../../../dist/rrasd.toml");

/// One part of the file: a `## ` heading, its keys and notes.
struct Part<'a> {
    title: &'a str,
    /// (line as it would be uncommented, trailing note)
    keys: Vec<(&'a str, &'a str)>,
}

/// `# key = value   # note` → ("key = value", "note"); sections too.
fn key_line(line: &str) -> Option<(&str, &str)> {
    let body = line
        .strip_prefix("# ")
        .or_else(|| (!line.starts_with('#')).then_some(line))?;
    let is_key = body.starts_with('[')
        || body.split_once(" = ").is_some_and(|(k, _)| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    if !is_key || body.trim().is_empty() {
        return None;
    }
    Some(match body.split_once("  #") {
        Some((k, note)) => (k.trim_end(), note.trim()),
        None => (body.trim_end(), ""),
    })
}

fn parts(text: &str) -> (Vec<&str>, Vec<Part<'_>>) {
    let mut preamble = Vec::new();
    let mut parts: Vec<Part<'_>> = Vec::new();
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            parts.push(Part {
                title,
                keys: Vec::new(),
            });
        } else if let Some(key) = key_line(line) {
            if let Some(p) = parts.last_mut() {
                p.keys.push(key);
            }
        } else if parts.is_empty() {
            if let Some(t) = line.strip_prefix("# ").or_else(|| (line == "#").then_some("")) {
                preamble.push(t);
            }
        }
    }
    (preamble, parts)
}

/// Escapes text for roff: backslashes, and a leading dot or quote. A colon
/// may end a line (`\:`), so a long fingerprint or address list still
/// fits 80 columns.
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-").replace(':', ":\\:");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// rrasd.toml(5).
pub fn man_page(version: &str) -> String {
    let (preamble, parts) = parts(SHIPPED);
    let mut out = format!(".TH RRASD.TOML 5 \"\" \"rrasd {}\" \"File Formats\"\n", roff(version));
    out.push_str(".SH NAME\nrrasd.toml \\- configuration file of the openrras daemon rrasd\n");
    out.push_str(".SH DESCRIPTION\n");
    for line in preamble.iter().skip(1) {
        if line.trim().is_empty() {
            out.push_str(".PP\n");
        } else {
            out.push_str(&roff(line.trim()));
            out.push('\n');
        }
    }
    for part in parts {
        out.push_str(&format!(".SH {}\n", roff(&part.title.to_uppercase())));
        for (key, note) in part.keys {
            // Inline bold, not `.B`: its quotes would be read as argument
            // delimiters.
            out.push_str(&format!(".TP\n\\fB{}\\fR\n", roff(key)));
            if !note.is_empty() {
                out.push_str(&roff(note));
                out.push('\n');
            }
        }
    }
    out.push_str(".SH FILES\n/etc/rrasd/rrasd.toml\n.SH SEE ALSO\n.BR rrasd (8),\n.BR rasctl (1)\n");
    out
}

/// docs/configuration.md.
pub fn markdown() -> String {
    let (preamble, parts) = parts(SHIPPED);
    let mut out = String::from(
        "# Configuration reference (`/etc/rrasd/rrasd.toml`)\n\n\
         Generated from `dist/rrasd.toml` by `rrasd --print-config-reference`;\n\
         do not edit by hand (a test compares it). The same text is the\n\
         rrasd.toml(5) manual page.\n\n",
    );
    for line in preamble.iter().skip(1) {
        out.push_str(line);
        out.push('\n');
    }
    for part in parts {
        out.push_str(&format!(
            "\n## {}\n\n| key (default or example) | note |\n|---|---|\n",
            part.title
        ));
        for (key, note) in part.keys {
            out.push_str(&format!(
                "| `{}` | {} |\n",
                key.replace('|', "\\|"),
                note.replace('|', "\\|")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_and_key_is_in_the_reference() {
        let md = markdown();
        for needle in [
            "## RADIUS accounting",
            "`listen = \"0.0.0.0:1813\"`",
            "`[[source]]`",
            "`log_format = \"text\"`",
        ] {
            assert!(md.contains(needle), "{needle} missing:\n{md}");
        }
        let man = man_page("0.1.0 (test)");
        assert!(man.starts_with(".TH RRASD.TOML 5"));
        assert!(man.contains("\\fBstate_dir = \"/var/lib/rrasd\"\\fR"), "{man}");
    }
}
