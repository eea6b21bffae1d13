//! The time an execution sees.
//!
//! Wait states and retry intervals sleep on this clock. The virtual clock
//! (`host run --virtual-time`, and the conformance suite) takes no real time:
//! sleeping moves its hands forward at once, so a 60-second Wait in a test
//! takes microseconds while `$$.State.EnteredTime` and history timestamps
//! still advance by 60 seconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub enum Clock {
    Real,
    /// Virtual time: real time plus how far sleeps have moved it forward.
    Virtual(Arc<AtomicI64>),
}

impl Clock {
    pub fn virtual_time() -> Self {
        Clock::Virtual(Arc::new(AtomicI64::new(0)))
    }

    pub fn is_virtual(&self) -> bool {
        matches!(self, Clock::Virtual(_))
    }

    pub fn now(&self) -> OffsetDateTime {
        let real = OffsetDateTime::now_utc();
        match self {
            Clock::Real => real,
            Clock::Virtual(offset_ns) => {
                real + time::Duration::nanoseconds(offset_ns.load(Ordering::Relaxed))
            }
        }
    }

    pub async fn sleep(&self, duration: Duration) {
        match self {
            Clock::Real => tokio::time::sleep(duration).await,
            Clock::Virtual(offset_ns) => {
                let ns = i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX);
                offset_ns.fetch_add(ns, Ordering::Relaxed);
            }
        }
    }
}
