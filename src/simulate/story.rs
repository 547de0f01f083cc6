//! What the simulated account is doing: customers writing in several
//! languages and scripts, outbound messages moving through sent →
//! delivered → read (some failing with Meta's error codes, some statuses
//! late or repeated), and templates being reviewed.
//!
//! A small seeded generator (SplitMix64) makes the run varied but
//! reproducible: the same seed gives the same sequence of events, apart
//! from their timestamps.

use serde_json::{json, Value};

use crate::store::{format_millis, now_millis};

/// Every event key the simulator knows and offers in its catalog.
pub const EVENT_KEYS: [&str; 6] = [
    "message.inbound.text",
    "message.status.sent",
    "message.status.delivered",
    "message.status.read",
    "message.status.failed",
    "template.status_update",
];

/// SplitMix64: tiny, fast, good enough for test traffic. Not for secrets.
#[derive(Debug, Clone)]
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `len` upper-case hexadecimal digits.
    pub fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789ABCDEF"[self.below(16)]))
            .collect()
    }
}

struct Customer {
    phone: &'static str,
    messages: &'static [&'static str],
}

const CUSTOMERS: [Customer; 6] = [
    Customer {
        phone: "919888888888",
        messages: &[
            "नमस्ते, मेरा ऑर्डर कब आएगा?",
            "धन्यवाद! पैकेज मिल गया।",
            "क्या मैं डिलीवरी का समय बदल सकती हूँ?",
        ],
    },
    Customer {
        phone: "971501234567",
        messages: &[
            "مرحبا، أين طلبي؟",
            "شكرا جزيلا على المساعدة",
            "هل يمكنني تغيير عنوان التوصيل؟",
        ],
    },
    Customer {
        phone: "79161234567",
        messages: &[
            "Здравствуйте! Когда будет доставка?",
            "Спасибо, всё пришло.",
            "Можно оплатить картой при получении?",
        ],
    },
    Customer {
        phone: "447700900123",
        messages: &[
            "Hi, I need help with my order",
            "Can I change the delivery address?",
            "Thanks, got it 👍",
        ],
    },
    Customer {
        phone: "5511987654321",
        messages: &[
            "Olá! Meu pedido chegou danificado 😕",
            "Vocês entregam no sábado?",
        ],
    },
    Customer {
        phone: "919777777777",
        messages: &["Order #4521 ka status kya hai?", "Refund kab tak aayega?"],
    },
];

/// Failures as Whats91 relays them from Meta; codes arrive as numbers or
/// strings.
fn failure(rng: &mut Prng) -> Value {
    let all = [
        json!({"code": 131026, "message": "Message undeliverable"}),
        json!({"code": "131047", "message": "Re-engagement message: more than 24 hours \
            have passed since the customer last replied"}),
        json!({"code": 131051, "message": "Unsupported message type"}),
        json!({"code": "131049", "message": "This message was not delivered to maintain \
            healthy ecosystem engagement"}),
        json!({"code": 130472, "message": "User's number is part of an experiment"}),
    ];
    rng.pick(&all).clone()
}

struct Template {
    name: &'static str,
    category: &'static str,
    language: &'static str,
}

const TEMPLATES: [Template; 5] = [
    Template {
        name: "order_update_v2",
        category: "UTILITY",
        language: "en",
    },
    Template {
        name: "festival_offer_v1",
        category: "MARKETING",
        language: "en",
    },
    Template {
        name: "otp_login",
        category: "AUTHENTICATION",
        language: "en_US",
    },
    Template {
        name: "promo_ramadan",
        category: "MARKETING",
        language: "ar",
    },
    Template {
        name: "shipping_notice",
        category: "UTILITY",
        language: "hi",
    },
];

/// The next statuses of an outbound message, in the order they will be
/// sent (which is not always their logical order).
struct Outbound {
    message_id: String,
    recipient: &'static str,
    pending: Vec<(&'static str, Option<Value>)>,
    last: Option<&'static str>,
}

/// One event for the webhooks: its key and its `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryEvent {
    pub event: String,
    pub data: Value,
}

/// The generator of events; each call to [`Story::next_event`] moves the
/// account's life one step.
pub struct Story {
    rng: Prng,
    outbound: Vec<Outbound>,
}

/// Outbound messages in flight at most, before some must finish.
const IN_FLIGHT: usize = 8;

impl Story {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Prng::new(seed),
            outbound: Vec::new(),
        }
    }

    pub fn next_event(&mut self) -> StoryEvent {
        let roll = self.rng.below(100);
        if roll < 5 {
            self.template_update()
        } else if roll < 35 {
            self.inbound()
        } else {
            self.status()
        }
    }

    fn inbound(&mut self) -> StoryEvent {
        let customer = self.rng.pick(&CUSTOMERS);
        let text = *self.rng.pick(customer.messages);
        let message_id = format!("wamid.HBgM{}{}", customer.phone, self.rng.hex(20));
        StoryEvent {
            event: "message.inbound.text".into(),
            data: json!({
                "from": customer.phone,
                "messageId": message_id,
                "text": text,
                "timestamp": now(),
            }),
        }
    }

    fn status(&mut self) -> StoryEvent {
        let start_new =
            self.outbound.len() < 2 || (self.outbound.len() < IN_FLIGHT && self.rng.chance(35));
        if start_new {
            let message = self.new_outbound();
            self.outbound.push(message);
        }
        let index = self.rng.below(self.outbound.len());
        let message = &mut self.outbound[index];
        // Now and then the previous status arrives again.
        let repeat = message.last.filter(|_| self.rng.chance(8));
        let (status, error) = match repeat {
            Some(last) => (last, None),
            None => message.pending.remove(0),
        };
        message.last = Some(status);
        let mut data = json!({
            "messageId": message.message_id,
            "recipient": message.recipient,
            "status": status,
        });
        if !self.rng.chance(10) {
            data["timestamp"] = json!(now());
        }
        if let Some(error) = error {
            data["error"] = error;
        }
        if message.pending.is_empty() {
            self.outbound.remove(index);
        }
        StoryEvent {
            event: format!("message.status.{status}"),
            data,
        }
    }

    fn new_outbound(&mut self) -> Outbound {
        let recipient = self.rng.pick(&CUSTOMERS).phone;
        let pending = if self.rng.chance(12) {
            vec![("sent", None), ("failed", Some(failure(&mut self.rng)))]
        } else if self.rng.chance(10) {
            // Read overtakes delivered, as it does on a busy network.
            vec![("sent", None), ("read", None), ("delivered", None)]
        } else if self.rng.chance(15) {
            vec![("sent", None), ("delivered", None)]
        } else {
            vec![("sent", None), ("delivered", None), ("read", None)]
        };
        Outbound {
            message_id: format!("wamid.OUT{}", self.rng.hex(24)),
            recipient,
            pending,
            last: None,
        }
    }

    fn template_update(&mut self) -> StoryEvent {
        let template = self.rng.pick(&TEMPLATES);
        let roll = self.rng.below(100);
        let (status, reason) = match roll {
            0..=44 => ("APPROVED", None),
            45..=64 => ("PENDING", None),
            65..=84 => {
                let reasons = [
                    "INVALID_FORMAT",
                    "TAG_CONTENT_MISMATCH",
                    "The template content violates the WhatsApp Business Policy",
                ];
                ("REJECTED", Some(*self.rng.pick(&reasons)))
            }
            85..=94 => ("PAUSED", Some("Low quality rating from customer feedback")),
            _ => ("FLAGGED", Some("Quality rating dropped to low")),
        };
        let mut data = json!({
            "templateName": template.name,
            "category": template.category,
            "language": template.language,
            "status": status,
        });
        if let Some(reason) = reason {
            data["reason"] = json!(reason);
        }
        StoryEvent {
            event: "template.status_update".into(),
            data,
        }
    }
}

fn now() -> String {
    format_millis(now_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(seed: u64, n: usize) -> Vec<StoryEvent> {
        let mut story = Story::new(seed);
        (0..n).map(|_| story.next_event()).collect()
    }

    #[test]
    fn the_same_seed_tells_the_same_story() {
        let strip = |events: Vec<StoryEvent>| {
            events
                .into_iter()
                .map(|mut e| {
                    e.data.as_object_mut().unwrap().remove("timestamp");
                    e
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(events(7, 200)), strip(events(7, 200)));
        assert_ne!(strip(events(7, 200)), strip(events(8, 200)));
    }

    #[test]
    fn a_long_run_has_every_kind_of_event_and_only_known_keys() {
        let all = events(42, 2000);
        for key in EVENT_KEYS {
            assert!(all.iter().any(|e| e.event == key), "{key} never happened");
        }
        assert!(all.iter().all(|e| EVENT_KEYS.contains(&e.event.as_str())));
        let rejected = all
            .iter()
            .any(|e| e.data["status"] == "REJECTED" && e.data["reason"].is_string());
        assert!(rejected);
        let non_latin = all.iter().any(|e| {
            e.data["text"]
                .as_str()
                .is_some_and(|t| t.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)))
        });
        assert!(non_latin, "no Arabic text");
        let numeric_code = all.iter().any(|e| e.data["error"]["code"].is_number());
        let string_code = all.iter().any(|e| e.data["error"]["code"].is_string());
        assert!(numeric_code && string_code);
    }

    #[test]
    fn statuses_of_a_message_are_sometimes_out_of_order_or_repeated() {
        let all = events(3, 3000);
        let mut seen: std::collections::HashMap<String, Vec<String>> = Default::default();
        for e in all
            .iter()
            .filter(|e| e.event.starts_with("message.status."))
        {
            let id = e.data["messageId"].as_str().unwrap().to_owned();
            let status = e.data["status"].as_str().unwrap().to_owned();
            seen.entry(id).or_default().push(status);
        }
        let out_of_order = seen.values().any(|s| {
            let read = s.iter().position(|x| x == "read");
            let delivered = s.iter().position(|x| x == "delivered");
            matches!((read, delivered), (Some(r), Some(d)) if r < d)
        });
        let repeated = seen
            .values()
            .any(|s| s.windows(2).any(|pair| pair[0] == pair[1]));
        assert!(out_of_order && repeated);
        assert!(seen.values().all(|s| s[0] == "sent"));
    }
}
