//! How the event writer shares its time between deliveries and projection.
//!
//! Deliveries always go first: a projection step starts only when no
//! delivery is waiting. While deliveries keep coming, projection earns its
//! time: every moment the writer spends waiting for the next delivery, and,
//! so that it never starves when deliveries arrive back to back, a
//! twentieth of the time spent committing them. A step runs to its end
//! once started, so the balance may go below zero; the writer then waits
//! for deliveries until it is earned back. Once a short wait brings none,
//! the writer is idle and steps follow each other until the next delivery.
//!
//! Under saturation every step holds up deliveries that are ready, so its
//! share is what a burst costs the receiver's throughput; at lower rates
//! the time between deliveries goes to keeping the projections fresh.

use std::time::Duration;

/// The part of the writer's busy time that projection is sure to get under
/// saturation: one twentieth. Every commit also waits for any step running
/// when its deliveries arrive, so this share is what a burst costs the
/// receiver's throughput.
const SATURATED_SHARE: u32 = 20;

/// A wait this long without a delivery means the writer is idle.
const IDLE_PROBE: Duration = Duration::from_millis(1);

/// Unused time carried forward, at most: after a pause in traffic,
/// projection may take this much from the first deliveries of a burst.
const MOST_CREDIT: Duration = Duration::from_millis(20);

/// Projection's balance of writer time, in microseconds; negative after a
/// step that took more than was earned.
#[derive(Debug, Default)]
pub struct ProjectionBudget {
    micros: i64,
    /// No delivery since a wait of `IDLE_PROBE` brought none.
    idle: bool,
}

impl ProjectionBudget {
    /// The writer spent `took` waiting for a delivery.
    pub fn waited(&mut self, took: Duration) {
        self.earn(took);
    }

    /// The writer waited `IDLE_PROBE` and no delivery came.
    pub fn found_idle(&mut self) {
        self.idle = true;
    }

    /// The writer spent `took` committing deliveries.
    pub fn committed(&mut self, took: Duration) {
        self.idle = false;
        self.earn(took / (SATURATED_SHARE - 1));
    }

    /// The writer spent `took` on a projection step.
    pub fn projected(&mut self, took: Duration) {
        self.micros -= micros(took);
    }

    /// Whether a step may start now that no delivery is waiting.
    pub fn may_project(&self) -> bool {
        self.idle || self.micros >= 0
    }

    /// How long the writer must wait, with no delivery coming, before the
    /// next step may start.
    fn owed(&self) -> Duration {
        Duration::from_micros(self.micros.min(0).unsigned_abs())
    }

    /// How long to wait for a delivery before projecting: what is owed,
    /// but never so long that an idle writer sits still.
    pub fn next_wait(&self) -> Duration {
        self.owed().min(IDLE_PROBE)
    }

    fn earn(&mut self, time: Duration) {
        self.micros = (self.micros + micros(time)).min(micros(MOST_CREDIT));
    }
}

fn micros(time: Duration) -> i64 {
    i64::try_from(time.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_step_may_start_at_once_when_nothing_was_spent() {
        let budget = ProjectionBudget::default();
        assert!(budget.may_project());
        assert_eq!(budget.owed(), Duration::ZERO);
    }

    #[test]
    fn time_spent_waiting_for_deliveries_is_earned_in_full() {
        let mut budget = ProjectionBudget::default();
        budget.projected(3 * MS);
        assert!(!budget.may_project());
        assert_eq!(budget.owed(), 3 * MS);
        budget.waited(2 * MS);
        assert_eq!(budget.owed(), MS);
        budget.waited(MS);
        assert!(budget.may_project());
    }

    #[test]
    fn back_to_back_commits_give_projection_a_twentieth_of_the_writer() {
        let mut budget = ProjectionBudget::default();
        let (mut committing, mut projecting) = (Duration::ZERO, Duration::ZERO);
        // Deliveries never stop: the writer projects only when the budget
        // allows it, and commits otherwise.
        for _ in 0..10_000 {
            if budget.may_project() {
                budget.projected(2 * MS);
                projecting += 2 * MS;
            } else {
                budget.committed(MS);
                committing += MS;
            }
        }
        let share = projecting.as_secs_f64() / (projecting + committing).as_secs_f64();
        assert!((0.045..0.055).contains(&share), "{share}");
    }

    #[test]
    fn an_idle_writer_projects_step_after_step_until_the_next_commit() {
        let mut budget = ProjectionBudget::default();
        budget.projected(5 * MS);
        assert_eq!(budget.next_wait(), IDLE_PROBE);
        budget.found_idle();
        for _ in 0..10 {
            assert!(budget.may_project());
            budget.projected(5 * MS);
        }
        budget.committed(MS);
        assert!(!budget.may_project());
    }

    #[test]
    fn a_long_pause_is_carried_forward_only_up_to_a_limit() {
        let mut budget = ProjectionBudget::default();
        budget.waited(Duration::from_secs(60));
        budget.projected(MOST_CREDIT);
        assert!(budget.may_project());
        budget.projected(MS);
        assert!(!budget.may_project());
        assert_eq!(budget.owed(), MS);
    }
}
