//! Tracing set-up, once per process: human-readable or JSON lines on stderr, filtered by RUST_LOG.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Default level: info for salesbot, warn for dependencies.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,salesbot=info,tower_http=info"));
    // stderr: stdout belongs to commands' output (`queue … --json`, `extract`); platforms such as
    // Render collect both streams.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    // A second init (tests start several apps in one process) is harmless: the first one stays.
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}
