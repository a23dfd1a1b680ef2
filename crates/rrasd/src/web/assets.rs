//! The console's pages, script and style, embedded in the binary: nothing
//! is fetched from anywhere else at run time.

/// The sign-in page (`{{message}}` is replaced by a fixed text).
pub(crate) const LOGIN_HTML: &str = include_str!("assets/login.html");
/// The shell of every page; app.js draws the view.
pub(crate) const APP_HTML: &str = include_str!("assets/app.html");
/// The console's script.
pub(crate) const APP_JS: &str = include_str!("assets/app.js");
/// The console's style (light and dark, following the system).
pub(crate) const APP_CSS: &str = include_str!("assets/app.css");
