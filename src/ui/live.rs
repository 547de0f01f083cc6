//! The live channel in the browser: one `EventSource` on `/api/live` per
//! tab, opened by the layout and shared with every page through context.
//!
//! Pages do not parse the stream. They read counters that move when
//! something they show changed on the server, and use them as the source of
//! their resources, so a change means "fetch again". Bursts are coalesced:
//! a counter moves at most once per [`COALESCE`], however fast deliveries
//! arrive.

use leptos::prelude::*;

use crate::model::Changes;

/// The longest a change waits before pages hear of it.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const COALESCE: std::time::Duration = std::time::Duration::from_millis(200);
/// How long to wait before opening a new stream once the browser gave up
/// on one (it retries by itself after a network error; not after a refusal).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const REOPEN_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// The state of this tab's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Open,
    Reconnecting,
}

impl Connection {
    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "Connecting",
            Self::Open => "Live",
            Self::Reconnecting => "Reconnecting",
        }
    }

    pub fn css_class(self) -> &'static str {
        match self {
            Self::Connecting => "live-indicator connecting",
            Self::Open => "live-indicator open",
            Self::Reconnecting => "live-indicator reconnecting",
        }
    }
}

/// What pages follow. Every counter starts at zero on the server and in the
/// browser, so the first render hydrates without a mismatch.
#[derive(Clone, Copy)]
pub struct Live {
    pub connection: RwSignal<Connection>,
    /// New events in the log.
    pub events: RwSignal<u64>,
    pub conversations: RwSignal<u64>,
    pub timelines: RwSignal<u64>,
    pub templates: RwSignal<u64>,
    /// Alerts raised or acknowledged.
    pub alerts: RwSignal<u64>,
    /// Alerts raised since this tab opened: they pop up as toasts.
    pub raised: RwSignal<Vec<i64>>,
    /// The last event this tab heard of, to resume from.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    last_seq: StoredValue<Option<i64>>,
    pending: StoredValue<Pending>,
}

/// Changes heard but not yet passed on to the pages.
#[derive(Debug, Clone, Copy, Default)]
struct Pending {
    scheduled: bool,
    events: bool,
    conversations: bool,
    timelines: bool,
    templates: bool,
    alerts: bool,
}

impl Live {
    fn new() -> Self {
        Self {
            connection: RwSignal::new(Connection::Connecting),
            events: RwSignal::new(0),
            conversations: RwSignal::new(0),
            timelines: RwSignal::new(0),
            templates: RwSignal::new(0),
            alerts: RwSignal::new(0),
            raised: RwSignal::new(Vec::new()),
            last_seq: StoredValue::new(None),
            pending: StoredValue::new(Pending::default()),
        }
    }

    /// Notes a new event in the log.
    pub fn heard_event(self) {
        self.pending.update_value(|p| p.events = true);
        self.schedule();
    }

    /// Notes what a projection batch (or an acknowledgement) changed.
    pub fn heard_changes(self, changes: &Changes) {
        if !changes.alerts.is_empty() {
            self.raised
                .update(|raised| raised.extend(changes.alerts.iter().copied()));
        }
        self.pending.update_value(|p| {
            p.conversations |= !changes.conversations.is_empty();
            p.timelines |= !changes.timelines.is_empty();
            p.templates |= !changes.templates.is_empty();
            p.alerts |= !changes.alerts.is_empty() || !changes.acknowledged.is_empty();
        });
        self.schedule();
    }

    /// Makes every page fetch again: after a reconnection, whatever happened
    /// meanwhile is on the server, whether or not the stream replays it.
    pub fn heard_everything(self) {
        self.pending.update_value(|p| {
            *p = Pending {
                scheduled: p.scheduled,
                events: true,
                conversations: true,
                timelines: true,
                templates: true,
                alerts: true,
            }
        });
        self.schedule();
    }

    fn schedule(self) {
        let already = self.pending.with_value(|p| p.scheduled);
        if already {
            return;
        }
        self.pending.update_value(|p| p.scheduled = true);
        set_timeout(move || self.flush(), COALESCE);
    }

    fn flush(self) {
        let Some(pending) = self.pending.try_update_value(std::mem::take) else {
            // The layout is gone.
            return;
        };
        let bump = |counter: RwSignal<u64>, changed: bool| {
            if changed {
                counter.update(|n| *n += 1);
            }
        };
        bump(self.events, pending.events);
        bump(self.conversations, pending.conversations);
        bump(self.timelines, pending.timelines);
        bump(self.templates, pending.templates);
        bump(self.alerts, pending.alerts);
    }
}

/// Creates this tab's live state, provides it to every page below, and (in
/// the browser) opens the stream.
pub fn provide_live() -> Live {
    let live = Live::new();
    provide_context(live);
    #[cfg(feature = "hydrate")]
    {
        let source = StoredValue::new_local(None::<web_sys::EventSource>);
        // Effects run only in the browser, once the page is interactive.
        Effect::new(move || {
            stream::open(live, source);
            stream::follow_network(live, source);
        });
        on_cleanup(move || {
            if let Some(Some(open)) = source.try_update_value(Option::take) {
                open.close();
            }
        });
    }
    live
}

/// This tab's live state (a quiet one outside the layout, e.g. in tests).
pub fn use_live() -> Live {
    use_context::<Live>().unwrap_or_else(Live::new)
}

#[cfg(feature = "hydrate")]
mod stream {
    use leptos::prelude::*;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{EventSource, MessageEvent};

    use super::{Connection, Live, REOPEN_AFTER};
    use crate::model::Changes;

    type Slot = StoredValue<Option<EventSource>, LocalStorage>;

    /// Follows the browser going offline and back: the stream is closed at
    /// once (rather than hanging on a dead connection until the next
    /// heartbeat) and reopened from the last event seen.
    pub fn follow_network(live: Live, slot: Slot) {
        let offline = window_event_listener_untyped("offline", move |_| {
            if let Some(Some(open)) = slot.try_update_value(Option::take) {
                open.close();
            }
            live.connection.set(Connection::Reconnecting);
        });
        let online = window_event_listener_untyped("online", move |_| {
            if slot.try_with_value(Option::is_none) == Some(true) {
                open(live, slot);
            }
        });
        on_cleanup(move || {
            offline.remove();
            online.remove();
        });
    }

    /// Opens the stream and wires its events to `live`. The browser resumes
    /// a dropped stream by itself, sending `Last-Event-ID`; a stream opened
    /// here again starts after the last event this tab saw.
    pub fn open(live: Live, slot: Slot) {
        let url = match live.last_seq.get_value() {
            Some(seq) => format!("/api/live?after={seq}"),
            None => "/api/live".to_owned(),
        };
        let Ok(source) = EventSource::new(&url) else {
            live.connection.set(Connection::Reconnecting);
            set_timeout(move || open(live, slot), REOPEN_AFTER);
            return;
        };

        let on_open = Closure::<dyn FnMut()>::new(move || {
            let was = live.connection.get_untracked();
            live.connection.set(Connection::Open);
            if was == Connection::Reconnecting {
                live.heard_everything();
            }
        });
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));

        let on_error = Closure::<dyn FnMut()>::new({
            let source = source.clone();
            move || {
                live.connection.set(Connection::Reconnecting);
                if source.ready_state() == EventSource::CLOSED {
                    // Refused (for example the session ended): the browser
                    // will not retry, so a new stream is opened later,
                    // unless the layout is gone by then.
                    set_timeout(
                        move || {
                            if slot.try_with_value(Option::is_some) == Some(true) {
                                open(live, slot);
                            }
                        },
                        REOPEN_AFTER,
                    );
                }
            }
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

        let on_delivery = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
            if let Ok(seq) = message.last_event_id().parse::<i64>() {
                live.last_seq.set_value(Some(seq));
            }
            live.heard_event();
        });
        let on_changes = Closure::<dyn FnMut(MessageEvent)>::new(move |message: MessageEvent| {
            let changes = message
                .data()
                .as_string()
                .and_then(|data| serde_json::from_str::<Changes>(&data).ok());
            if let Some(changes) = changes {
                live.heard_changes(&changes);
            }
        });
        let _ = source
            .add_event_listener_with_callback("delivery", on_delivery.as_ref().unchecked_ref());
        let _ =
            source.add_event_listener_with_callback("changes", on_changes.as_ref().unchecked_ref());

        // The handlers live as long as the tab; one set per stream opened.
        on_open.forget();
        on_error.forget();
        on_delivery.forget();
        on_changes.forget();

        if let Some(Some(previous)) = slot.try_update_value(|slot| slot.replace(source)) {
            previous.close();
        }
    }
}
