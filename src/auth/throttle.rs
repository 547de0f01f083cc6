//! Slowing down password guessing: failed logins are counted per address
//! and per user name over a window; past the allowance, every further
//! attempt waits before it is checked, longer the more it exceeds.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

#[derive(Debug, Clone, Copy)]
pub struct ThrottleLimits {
    /// Failures allowed within `window` before attempts are slowed.
    pub allowed_failures: usize,
    pub window: Duration,
    /// The longest wait imposed on one attempt.
    pub max_delay: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        Self {
            allowed_failures: 5,
            window: Duration::from_secs(15 * 60),
            max_delay: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// Keys tracked at most; beyond it the oldest state is dropped, so a flood
/// of invented names cannot grow memory without bound.
const MAX_KEYS: usize = 50_000;

impl LoginThrottle {
    pub fn new(limits: ThrottleLimits) -> Self {
        Self {
            limits,
            failures: Mutex::default(),
        }
    }

    /// How long an attempt from `addr` for `username` must wait.
    pub fn delay(&self, addr: &str, username: &str, now: Instant) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let recent = [key("addr", addr), key("user", username)]
            .into_iter()
            .map(|k| {
                let entry = failures.entry(k).or_default();
                entry.retain(|at| now.duration_since(*at) < self.limits.window);
                entry.len()
            })
            .max()
            .unwrap_or(0);
        let excess = (recent + 1).saturating_sub(self.limits.allowed_failures);
        if excess == 0 {
            return Duration::ZERO;
        }
        let seconds = 1u64 << excess.min(10);
        Duration::from_secs(seconds).min(self.limits.max_delay)
    }

    pub fn record_failure(&self, addr: &str, username: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_KEYS {
            failures.clear();
        }
        for k in [key("addr", addr), key("user", username)] {
            failures.entry(k).or_default().push_back(now);
        }
    }

    /// A successful login clears the user name's failures (not the
    /// address's: one right password does not excuse many wrong ones).
    pub fn record_success(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(&key("user", username));
    }
}

fn key(kind: &str, value: &str) -> String {
    format!("{kind}:{value}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_free_up_to_the_allowance_then_slowed_more_and_more() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            allowed_failures: 2,
            window: Duration::from_secs(60),
            max_delay: Duration::from_secs(5),
        });
        let now = Instant::now();
        let mut delays = Vec::new();
        for _ in 0..6 {
            delays.push(throttle.delay("10.0.0.1", "admin", now).as_secs());
            throttle.record_failure("10.0.0.1", "admin", now);
        }
        assert_eq!(delays, [0, 0, 2, 4, 5, 5]);
        // Another address guessing the same user is slowed too.
        assert_eq!(throttle.delay("10.0.0.2", "admin", now).as_secs(), 5);
        // Outside the window, everything is forgotten.
        let later = now + Duration::from_secs(61);
        assert_eq!(throttle.delay("10.0.0.1", "admin", later), Duration::ZERO);
    }
}
