//! Message delivery statuses and the order in which they may advance.
//!
//! `accepted < queued < pending < sent < delivered < read`, and `failed`
//! above them all: once failed, a message stays failed. Any other status
//! Whats91 reports (Meta's `deleted`, `warning`, or one not seen before) is
//! kept in the timeline but never moves the current status. Because the
//! current status is simply the highest-ranked status seen, it does not
//! depend on the order in which statuses arrive.

/// A status as reported, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageStatus(String);

/// The progression, lowest first; `failed` is terminal.
const PROGRESSION: [&str; 7] = crate::model::MESSAGE_STATUSES;

impl MessageStatus {
    /// Any non-empty status word; unknown ones are kept, unranked.
    pub fn parse(raw: &str) -> Option<Self> {
        let status = raw.trim().to_ascii_lowercase();
        let valid = !status.is_empty()
            && status.len() <= 40
            && status
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        valid.then_some(Self(status))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Position in the progression, or `None` for a status that never moves
    /// the current one.
    pub fn rank(&self) -> Option<i64> {
        PROGRESSION
            .iter()
            .position(|s| *s == self.0)
            .map(|position| position as i64)
    }

    pub fn is_terminal(&self) -> bool {
        self.0 == "failed"
    }
}

/// Rank stored for a timeline whose statuses so far are all unranked.
pub const UNRANKED: i64 = -1;

/// What a newly seen status does to a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// It becomes the current status.
    Advance,
    /// It is recorded only: it ranks below the current status.
    OutOfOrder,
    /// It is recorded only: it has no rank (or the same rank).
    Recorded,
}

/// What a newly seen status does to a timeline whose current status is
/// `current`, ranked `current_rank`. Among unranked statuses alone the
/// alphabetically last one is current, so that the outcome never depends on
/// arrival order.
pub fn transition(current_rank: i64, current: &str, status: &MessageStatus) -> Transition {
    match status.rank() {
        Some(rank) if rank > current_rank => Transition::Advance,
        Some(rank) if rank < current_rank => Transition::OutOfOrder,
        Some(_) => Transition::Recorded,
        None if current_rank == UNRANKED && status.as_str() > current => Transition::Advance,
        None => Transition::Recorded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(raw: &str) -> MessageStatus {
        MessageStatus::parse(raw).unwrap()
    }

    /// Applies statuses in order, as the projector does; returns the final
    /// current status and which arrivals were out of order.
    fn apply(order: &[&str]) -> (Option<String>, Vec<bool>) {
        let (mut rank, mut current, mut out_of_order) = (UNRANKED, None::<String>, Vec::new());
        let mut seen = std::collections::HashSet::new();
        for raw in order {
            let s = status(raw);
            if !seen.insert(s.clone()) {
                continue; // the same status is recorded once
            }
            let t = match &current {
                Some(name) => transition(rank, name, &s),
                // The first status starts the timeline.
                None => Transition::Advance,
            };
            out_of_order.push(t == Transition::OutOfOrder);
            if t == Transition::Advance {
                rank = s.rank().unwrap_or(UNRANKED);
                current = Some(s.as_str().to_owned());
            }
        }
        (current, out_of_order)
    }

    #[test]
    fn every_pair_of_ranked_statuses_settles_on_the_higher_in_both_orders() {
        for (i, low) in PROGRESSION.iter().enumerate() {
            for high in &PROGRESSION[i + 1..] {
                let (forward, forward_marks) = apply(&[low, high]);
                let (backward, backward_marks) = apply(&[high, low]);
                assert_eq!(forward.as_deref(), Some(*high), "{low} then {high}");
                assert_eq!(backward.as_deref(), Some(*high), "{high} then {low}");
                assert_eq!(forward_marks, [false, false], "{low} then {high}");
                assert_eq!(
                    backward_marks,
                    [false, true],
                    "{high} then {low}: late one marked"
                );
            }
        }
    }

    #[test]
    fn a_repeated_status_is_recorded_once_and_changes_nothing() {
        let (current, marks) = apply(&["sent", "delivered", "sent", "delivered"]);
        assert_eq!(current.as_deref(), Some("delivered"));
        assert_eq!(marks.len(), 2);
    }

    #[test]
    fn failed_is_terminal_even_after_read_and_read_cannot_follow_it() {
        assert_eq!(
            apply(&["sent", "read", "failed"]).0.as_deref(),
            Some("failed")
        );
        let (current, marks) = apply(&["failed", "read", "delivered"]);
        assert_eq!(current.as_deref(), Some("failed"));
        assert_eq!(marks, [false, true, true]);
        assert!(status("failed").is_terminal());
    }

    #[test]
    fn unranked_statuses_are_kept_but_never_move_a_ranked_current_one() {
        assert_eq!(status("deleted").rank(), None);
        assert_eq!(status("warning").rank(), None);
        let (current, marks) = apply(&["delivered", "deleted", "warning", "something_new"]);
        assert_eq!(current.as_deref(), Some("delivered"));
        assert_eq!(marks, [false, false, false, false]);
        assert_eq!(apply(&["warning", "sent"]).0.as_deref(), Some("sent"));
    }

    #[test]
    fn among_unranked_statuses_alone_the_outcome_ignores_arrival_order() {
        assert_eq!(apply(&["deleted", "warning"]).0.as_deref(), Some("warning"));
        assert_eq!(apply(&["warning", "deleted"]).0.as_deref(), Some("warning"));
    }

    #[test]
    fn statuses_are_read_case_insensitively_and_garbage_is_refused() {
        assert_eq!(status(" DELIVERED ").as_str(), "delivered");
        assert_eq!(MessageStatus::parse(""), None);
        assert_eq!(MessageStatus::parse("de livered"), None);
        assert_eq!(MessageStatus::parse(&"x".repeat(41)), None);
    }
}
