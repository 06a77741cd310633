//! `SSLKEYLOGFILE` support for both kinds of configuration, through rustls' `KeyLogFile`.

use std::sync::Arc;

use rustls::{ClientConfig, KeyLog, KeyLogFile, ServerConfig};

/// A rustls configuration with a key log.
pub(crate) trait WithKeyLog: Clone {
    fn key_log(&mut self) -> &mut Arc<dyn KeyLog>;
}

impl WithKeyLog for ClientConfig {
    fn key_log(&mut self) -> &mut Arc<dyn KeyLog> {
        &mut self.key_log
    }
}

impl WithKeyLog for ServerConfig {
    fn key_log(&mut self) -> &mut Arc<dyn KeyLog> {
        &mut self.key_log
    }
}

/// `config` logging its secrets to `$SSLKEYLOGFILE`, or unchanged when that is unset.
pub(crate) fn from_env<C: WithKeyLog>(config: Arc<C>) -> Arc<C> {
    if std::env::var_os("SSLKEYLOGFILE").is_none() {
        return config;
    }
    let mut config = C::clone(&config);
    *config.key_log() = Arc::new(KeyLogFile::new());
    Arc::new(config)
}
