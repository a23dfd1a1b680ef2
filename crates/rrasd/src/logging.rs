//! Where the daemon's log goes and how it looks.
//!
//! - On a terminal: tracing's text format with colours.
//! - Not on a terminal (a file, a pipe): the same text, never an escape code.
//! - Under systemd (`JOURNAL_STREAM` set, stderr connected to the journal):
//!   one plain line per event with the sd-daemon priority prefix (`<3>` …
//!   `<7>`), no timestamp (the journal has its own), so `journalctl -p err`
//!   works.
//! - `--log-format json`: one JSON object per line with stable field names
//!   (`ts`, `level`, `target`, `message`, then the event's own fields) for
//!   log shippers.
//!
//! Engine text (user names, NAS identifiers, engine errors) is escaped in
//! text lines (`\x1b`, as rasctl shows it); JSON lines escape it as JSON.
//!
//! Secrets never reach the log: no event carries a RADIUS secret, a token,
//! or key material (tests/logs.rs runs the daemon with all of them in play
//! and reads the whole log).

use std::fmt;
use std::io::IsTerminal;

use rras_core::display::Escaped;
use serde::Deserialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

/// `log_format` / `--log-format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal only; journald
    /// priorities under systemd).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber writing to stderr.
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let under_journald = std::env::var_os("JOURNAL_STREAM").is_some();
    match format {
        LogFormat::Json => builder.event_format(JsonLines).init(),
        LogFormat::Text if under_journald => builder.event_format(JournalLines).init(),
        LogFormat::Text => builder
            .fmt_fields(escaped_fields())
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
    }
}

/// Text fields with engine text escaped (`rras_core::display`): a log line
/// quoting a user name, NAS identifier or engine error must not carry
/// terminal control to whoever reads the log on a terminal.
fn escaped_fields() -> impl for<'w> FormatFields<'w> {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
        let text = format!("{value:?}");
        if field.name() == "message" {
            write!(writer, "{}", Escaped(&text))
        } else {
            write!(writer, "{field}={}", Escaped(&text))
        }
    })
    .delimited(" ")
}

/// The sd-daemon priority of a level.
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Collects an event's fields: the message apart, the rest as JSON values.
#[derive(Default)]
struct Fields {
    message: String,
    rest: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.rest
                .insert(field.name().to_owned(), serde_json::Value::String(text));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.rest.insert(field.name().to_owned(), value.into());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.rest.insert(field.name().to_owned(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.rest.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.rest.insert(field.name().to_owned(), value.into());
    }
}

/// `--log-format json`.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let mut line = serde_json::Map::new();
        line.insert(
            "ts".into(),
            humantime::format_rfc3339_micros(std::time::SystemTime::now())
                .to_string()
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().to_ascii_lowercase().into());
        line.insert("target".into(), meta.target().into());
        line.insert("message".into(), fields.message.into());
        for (k, v) in fields.rest {
            line.entry(k).or_insert(v);
        }
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

/// Plain lines with journald priority prefixes.
struct JournalLines;

impl<S, N> FormatEvent<S, N> for JournalLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        write!(
            writer,
            "<{}>{}: {}",
            priority(meta.level()),
            meta.target(),
            Escaped(&fields.message)
        )?;
        for (k, v) in &fields.rest {
            match v {
                serde_json::Value::String(s) => write!(writer, " {k}={}", Escaped(s))?,
                other => write!(writer, " {k}={other}")?,
            }
        }
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_follow_sd_daemon() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::TRACE), 7);
    }
}
