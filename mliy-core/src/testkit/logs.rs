//! Capturing `tracing` output, to check that no secret is logged.
//!
//! One global subscriber, installed on first use, logs everything at every level and writes
//! each event to the capture of the thread that emitted it. A global subscriber makes every
//! callsite's interest "always", so a capture never misses an event because another test
//! thread registered the callsite first (the race a scoped `set_default` has).

use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock};

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

thread_local! {
    static CURRENT: RefCell<Option<Buffer>> = const { RefCell::new(None) };
}

/// Writes to the current thread's capture, or nowhere.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CURRENT.with(|c| {
            if let Some(b) = &*c.borrow() {
                b.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything logged at any level on this thread while it lives.
pub struct CapturedLogs {
    buffer: Buffer,
    _scoped: Option<tracing::subscriber::DefaultGuard>,
}

impl CapturedLogs {
    /// Starts capturing on the current thread.
    pub fn start() -> Self {
        static GLOBAL: OnceLock<bool> = OnceLock::new();
        let global = *GLOBAL.get_or_init(|| tracing::subscriber::set_global_default(subscriber()).is_ok());
        // Another global subscriber was already set: fall back to a scoped one.
        let scoped = (!global).then(|| {
            let guard = tracing::subscriber::set_default(subscriber());
            tracing::callsite::rebuild_interest_cache();
            guard
        });
        let buffer = Buffer::default();
        CURRENT.with(|c| *c.borrow_mut() = Some(buffer.clone()));
        CapturedLogs { buffer, _scoped: scoped }
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buffer.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl Drop for CapturedLogs {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

fn subscriber() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(|| ThreadCapture)
        .with_ansi(false)
        .finish()
}
