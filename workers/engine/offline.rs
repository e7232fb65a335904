//! The deterministic offline engine: no network, no model. Each turn it re-reads the whole
//! conversation with [`extract_lead`], diffs the result against the stored lead to build the
//! patch, and answers like a careful sales manager — greet once, thank, confirm what it
//! understood, ask for one missing field at a time (object, city, area, name, phone), never
//! quote a price, and close with a summary once the lead is qualified.
//!
//! It also serves as the fallback when an LLM engine is unavailable, so it must never fail.

pub mod replies;

use std::future;

use crate::domain::language::Language;
use crate::domain::qualification::is_qualified;

use super::intent;
use super::text::language::{self, LanguageCounts};
use super::text::phone;
use super::text::tokens::tokenize;
use super::{
    Engine, EngineFuture, ExtractedLead, HandoffRequest, LeadPatch, LeadSnapshot, Role, TurnInput,
    TurnOutput, Usage, extract_lead,
};
use replies::Field;

/// The rule-based engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct OfflineEngine;

impl OfflineEngine {
    pub const NAME: &'static str = "offline";

    pub fn new() -> Self {
        OfflineEngine
    }

    /// The synchronous core of [`Engine::turn`].
    pub fn respond(&self, input: &TurnInput) -> TurnOutput {
        let conv = &input.conversation;
        let latest_user = conv
            .iter()
            .rev()
            .find(|t| t.role == Role::User)
            .map_or("", |t| t.text.as_str());
        let bot_spoke = conv.iter().any(|t| t.role == Role::Assistant);

        let customer_language = super::customer_language(input);
        let lang = reply_language(input).unwrap_or(Language::Ru);

        let lead = extract_lead(conv);
        let mut parts: Vec<String> = Vec::new();
        if !bot_spoke {
            parts.push(
                input
                    .tenant
                    .greeting
                    .clone()
                    .filter(|g| !g.trim().is_empty())
                    .unwrap_or_else(|| replies::greeting(lang, &input.tenant.company_name)),
            );
        }

        if lead.off_topic {
            parts.push(replies::off_topic(lang).to_string());
            return TurnOutput {
                reply: parts.join(" "),
                lead_patch: LeadPatch::default(),
                handoff: None,
                language: customer_language,
                usage: Usage::default(),
                off_topic: true,
                engine: Self::NAME,
            };
        }

        let merged = merge(&lead, &input.lead);
        let mut patch = diff(&lead, &input.lead);
        let qualified = is_qualified(
            merged.phone.as_ref(),
            merged.city,
            merged.object_type,
            merged.area_m2,
        );
        let was_qualified = is_qualified(
            input.lead.phone.as_ref(),
            input.lead.city,
            input.lead.object_type,
            input.lead.area_m2,
        );
        let changed = !patch.is_empty();
        if changed {
            patch.summary = Some(summary(lang, &merged));
        }

        if bot_spoke && changed {
            parts.push(replies::thanks(lang, merged.name.as_deref()));
        }
        let new_items = replies::lead_items(lang, patch.object_type, patch.city, patch.area_m2);
        if !new_items.is_empty() && !qualified {
            parts.push(replies::noted(lang, &new_items));
        }

        let handoff = intent::wants_human(latest_user).then(|| HandoffRequest {
            reason: "customer asked for a human manager".to_string(),
        });
        if handoff.is_some() {
            parts.push(replies::handoff(lang, merged.phone.is_some()));
        } else {
            if intent::asks_price(latest_user) {
                // The company's own price for this object, if its list has one; else a manager's.
                let listed = merged
                    .object_type
                    .and_then(|o| input.tenant.prices.for_object(o));
                parts.push(match listed {
                    Some(item) => replies::price_quote(lang, item),
                    None => replies::price_note(lang).to_string(),
                });
            }
            let declined = declined_fields(input, &merged);
            let just_refused = merged.phone.is_none() && intent::refuses_phone(latest_user);
            let mistyped_phone = merged.phone.is_none()
                && !phone::broken_phone_runs(&tokenize(latest_user)).is_empty();
            let missing = |f: Field| match f {
                Field::Object => merged.object_type.is_none(),
                Field::City => merged.city.is_none(),
                Field::Area => {
                    merged.area_m2.is_none()
                        && merged.object_type != Some(crate::domain::object_type::ObjectType::Other)
                }
                Field::Name => merged.name.is_none(),
                Field::Phone => merged.phone.is_none(),
            };
            let next = [
                Field::Object,
                Field::City,
                Field::Area,
                Field::Name,
                Field::Phone,
            ]
            .into_iter()
            .find(|f| missing(*f) && !declined.contains(f));
            if mistyped_phone {
                parts.push(replies::check_phone(lang).to_string());
            } else if just_refused {
                // «я сам позвоню»: offer the company's number instead of asking again.
                if let Some(p) = input.tenant.company_phone.as_deref() {
                    parts.push(replies::call_us(lang, p));
                }
                parts.push(replies::closing(lang).to_string());
            } else if qualified {
                if next == Some(Field::Name) {
                    parts.push(replies::question(lang, Field::Name).to_string());
                } else if was_qualified && !changed {
                    parts.push(replies::still_done(lang).to_string());
                } else {
                    let phone = merged.phone.as_ref().map_or("", |p| p.as_str());
                    let items =
                        replies::lead_items(lang, merged.object_type, merged.city, merged.area_m2);
                    parts.push(replies::done(lang, &items.join(", "), phone));
                }
            } else if let Some(field) = next {
                parts.push(replies::question(lang, field).to_string());
            } else {
                if declined.contains(&Field::Phone)
                    && let Some(p) = input.tenant.company_phone.as_deref()
                {
                    parts.push(replies::call_us(lang, p));
                }
                parts.push(replies::closing(lang).to_string());
            }
        }

        TurnOutput {
            reply: parts.join(" "),
            lead_patch: patch,
            handoff,
            language: customer_language,
            usage: Usage::default(),
            off_topic: false,
            engine: Self::NAME,
        }
    }
}

impl Engine for OfflineEngine {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn turn<'a>(&'a self, input: &'a TurnInput) -> EngineFuture<'a> {
        Box::pin(future::ready(Ok(self.respond(input))))
    }
}

/// The reply language: the dominant language of the latest customer message; when it is too
/// short to tell («Айдана, 8 747 …», "ok"), earlier customer messages are added until there
/// are a few words; then the hint; `None` when nothing at all is known.
fn reply_language(input: &TurnInput) -> Option<Language> {
    let mut counts = LanguageCounts::default();
    for t in input
        .conversation
        .iter()
        .rev()
        .filter(|t| t.role == Role::User)
    {
        counts.add(language::counts(&t.text));
        if counts.total() >= 3 {
            break;
        }
    }
    let hint = input.language_hint.filter(|l| *l != Language::Mixed);
    if counts.total() >= 3 {
        counts.dominant()
    } else {
        hint.or_else(|| counts.dominant())
    }
}

/// The stored lead with this turn's extraction on top (the conversation may be truncated, so
/// a field extracted earlier is kept when it is not found again).
fn merge(lead: &ExtractedLead, stored: &LeadSnapshot) -> LeadSnapshot {
    LeadSnapshot {
        name: lead.name.clone().or_else(|| stored.name.clone()),
        phone: lead.phone.clone().or_else(|| stored.phone.clone()),
        city: lead.city.or(stored.city),
        object_type: lead.object_type.or(stored.object_type),
        area_m2: lead.area_m2.or(stored.area_m2),
        summary: stored.summary.clone(),
    }
}

/// Fields the extraction found and the stored lead does not already hold.
fn diff(lead: &ExtractedLead, stored: &LeadSnapshot) -> LeadPatch {
    fn changed<T: PartialEq + Clone>(new: &Option<T>, old: &Option<T>) -> Option<T> {
        new.as_ref().filter(|n| old.as_ref() != Some(*n)).cloned()
    }
    LeadPatch {
        name: changed(&lead.name, &stored.name),
        phone: changed(&lead.phone, &stored.phone),
        city: changed(&lead.city, &stored.city),
        object_type: changed(&lead.object_type, &stored.object_type),
        area_m2: lead
            .area_m2
            .filter(|a| stored.area_m2.is_none_or(|s| (s - a).abs() > 1e-9)),
        summary: None,
    }
}

/// Fields not worth asking again: asked once and not given (twice for the city and the phone,
/// which the lead cannot do without), or a phone the customer refused to give.
fn declined_fields(input: &TurnInput, merged: &LeadSnapshot) -> Vec<Field> {
    let conv = &input.conversation;
    let mut asks = [0u8; 5];
    for (i, t) in conv.iter().enumerate() {
        if t.role != Role::Assistant || !conv[i + 1..].iter().any(|u| u.role == Role::User) {
            continue;
        }
        let a = intent::asked(&t.text);
        for (k, asked) in [a.object, a.city, a.area, a.name, a.phone]
            .into_iter()
            .enumerate()
        {
            asks[k] += u8::from(asked);
        }
    }
    let refused = conv
        .iter()
        .filter(|t| t.role == Role::User)
        .any(|t| intent::refuses_phone(&t.text));
    let fields = [
        (Field::Object, merged.object_type.is_none(), 1),
        (Field::City, merged.city.is_none(), 2),
        (Field::Area, merged.area_m2.is_none(), 1),
        (Field::Name, merged.name.is_none(), 1),
        (Field::Phone, merged.phone.is_none(), 2),
    ];
    fields
        .into_iter()
        .enumerate()
        .filter(|(k, (field, missing, limit))| {
            *missing && (asks[*k] >= *limit || (*field == Field::Phone && refused))
        })
        .map(|(_, (field, _, _))| field)
        .collect()
}

/// A one-line summary of the lead for the CRM and the closing message.
fn summary(lang: Language, lead: &LeadSnapshot) -> String {
    let mut items = replies::lead_items(lang, lead.object_type, lead.city, lead.area_m2);
    if let Some(n) = &lead.name {
        items.push(n.clone());
    }
    if let Some(p) = &lead.phone {
        items.push(p.as_str().to_string());
    }
    items.join(", ")
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::domain::city::City;
    use crate::domain::object_type::ObjectType;
    use crate::domain::phone::Phone;
    use crate::domain::price::{PriceItem, PriceList};
    use crate::workers::engine::{TenantProfile, Turn, guard};

    fn input(turns: Vec<Turn>) -> TurnInput {
        TurnInput {
            conversation: turns,
            lead: LeadSnapshot::default(),
            tenant: TenantProfile {
                company_name: "СтройДом".into(),
                greeting: None,
                company_phone: Some("+7 700 300 40 50".into()),
                ..TenantProfile::default()
            },
            language_hint: None,
        }
    }

    fn reply(turns: Vec<Turn>) -> TurnOutput {
        OfflineEngine.respond(&input(turns))
    }

    /// How many of the five field questions (in any language) a reply asks.
    fn questions_asked(reply: &str) -> usize {
        let mut n = 0;
        for lang in [Language::Ru, Language::Kk, Language::En] {
            for f in [
                Field::Object,
                Field::City,
                Field::Area,
                Field::Name,
                Field::Phone,
            ] {
                if reply.contains(replies::question(lang, f)) {
                    n += 1;
                }
            }
        }
        n
    }

    #[test]
    fn trait_future_is_ready_and_named() {
        let engine: &dyn Engine = &OfflineEngine;
        assert_eq!(engine.name(), "offline");
        let inp = input(vec![Turn::user("хочу баню")]);
        let mut fut = pin!(engine.turn(&inp));
        let mut cx = Context::from_waker(Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(out)) => assert_eq!(out.engine, "offline"),
            other => panic!("not ready: {:?}", other.is_ready()),
        }
    }

    #[test]
    fn greets_once_and_asks_one_field() {
        let out = reply(vec![Turn::user("Здравствуйте, хочу построить баню")]);
        assert!(out.reply.starts_with("Здравствуйте!"), "{}", out.reply);
        assert_eq!(questions_asked(&out.reply), 1, "{}", out.reply);
        assert!(
            out.reply
                .contains(replies::question(Language::Ru, Field::City))
        );
        assert_eq!(out.lead_patch.object_type, Some(ObjectType::Bathhouse));

        let out = reply(vec![
            Turn::user("Здравствуйте, хочу построить баню"),
            Turn::assistant("Здравствуйте! В каком городе будет объект?"),
            Turn::user("в Талгаре"),
        ]);
        assert!(!out.reply.contains("Здравствуйте"), "{}", out.reply);
        assert_eq!(questions_asked(&out.reply), 1, "{}", out.reply);
        assert!(
            out.reply
                .contains(replies::question(Language::Ru, Field::Area))
        );
    }

    #[test]
    fn reply_language_follows_the_customer() {
        let kk = reply(vec![Turn::user(
            "Сәлеметсіз бе! Алматыда үй салғымыз келеді",
        )]);
        assert!(kk.reply.contains("Сәлеметсіз бе"), "{}", kk.reply);
        assert!(
            kk.reply
                .contains(replies::question(Language::Kk, Field::Area)),
            "{}",
            kk.reply
        );
        assert_eq!(kk.language, Language::Kk);

        let en = reply(vec![Turn::user("Hi, I need a garage in Almaty")]);
        assert!(en.reply.starts_with("Hello!"), "{}", en.reply);
        assert_eq!(en.language, Language::En);

        // Mixed conversation: the reply follows the latest message's dominant language.
        let mixed = reply(vec![
            Turn::user("Hello, I need a house in Astana"),
            Turn::assistant("Hello! What area?"),
            Turn::user("примерно 140 квадратов, одноэтажный"),
        ]);
        assert!(
            mixed
                .reply
                .contains(replies::question(Language::Ru, Field::Name)),
            "{}",
            mixed.reply
        );
        assert_eq!(mixed.language, Language::Mixed);
    }

    #[test]
    fn summarises_when_qualified() {
        let out = reply(vec![
            Turn::user("Hi, нужна баня в Алматы, 6х6"),
            Turn::assistant("Здравствуйте! Баня 6×6 — 36 м². Как вас зовут?"),
            Turn::user("Max. phone +7 707 234 11 90"),
        ]);
        assert!(out.reply.contains("+77072341190"), "{}", out.reply);
        assert!(
            out.reply.contains("36 m²") || out.reply.contains("36 м²"),
            "{}",
            out.reply
        );
        assert_eq!(questions_asked(&out.reply), 0);
        assert_eq!(
            out.lead_patch.phone,
            Some(Phone::parse("87072341190").unwrap())
        );
        assert_eq!(out.lead_patch.city, Some(City::Almaty));
        assert!(out.lead_patch.summary.is_some());
    }

    #[test]
    fn a_price_question_is_answered_from_the_companys_list_only() {
        let mut asked = input(vec![Turn::user("Сколько стоит построить гараж в Алматы?")]);
        asked.tenant.prices = PriceList::parse(vec![PriceItem {
            object_type: ObjectType::Garage,
            min_per_m2: 60_000,
            max_per_m2: 90_000,
            conditions: None,
        }])
        .unwrap();
        let out = OfflineEngine.respond(&asked);
        assert!(out.reply.contains("60 000–90 000 ₸ за м²"), "{}", out.reply);
        assert_eq!(guard::check(&out.reply, &asked.tenant.prices), None);
        // A house is not on this list: a manager calculates it.
        asked.conversation = vec![Turn::user("Сколько стоит построить дом?")];
        let out = OfflineEngine.respond(&asked);
        assert!(
            out.reply.contains(replies::price_note(Language::Ru)),
            "{}",
            out.reply
        );
        assert!(!out.reply.contains('₸'), "{}", out.reply);
    }

    #[test]
    fn price_question_is_never_answered_with_a_number() {
        let out = reply(vec![Turn::user("Сколько стоит построить гараж?")]);
        assert!(
            out.reply.contains(replies::price_note(Language::Ru)),
            "{}",
            out.reply
        );
        let digits: String = out.reply.chars().filter(|c| c.is_ascii_digit()).collect();
        assert!(digits.is_empty(), "{}", out.reply);
    }

    #[test]
    fn handoff_request() {
        let out = reply(vec![
            Turn::user("нужен дом в Астане"),
            Turn::assistant("Какая площадь?"),
            Turn::user("позовите менеджера, пожалуйста"),
        ]);
        assert!(out.handoff.is_some());
        assert!(out.reply.contains("менеджеру"), "{}", out.reply);
        let kk = reply(vec![Turn::user("менеджермен сөйлескім келеді")]);
        assert!(kk.handoff.is_some());
        assert!(kk.reply.contains("менеджерге"), "{}", kk.reply);
        let en = reply(vec![Turn::user("I want to talk to a person")]);
        assert!(en.handoff.is_some());
        assert!(reply(vec![Turn::user("хочу баню")]).handoff.is_none());
    }

    #[test]
    fn off_topic_gets_a_redirect_and_no_lead() {
        let out = reply(vec![Turn::user(
            "Добрый день! Предлагаем услуги SEO-продвижения сайта. Звоните: 8 708 555 00 11",
        )]);
        assert!(out.off_topic);
        assert!(out.lead_patch.is_empty());
        assert!(out.reply.contains(replies::off_topic(Language::Ru)));
        assert!(out.handoff.is_none());
    }

    #[test]
    fn does_not_nag_for_a_refused_phone() {
        let out = reply(vec![
            Turn::user("добрый день нужен забор из профлиста 60 метров в Семее"),
            Turn::assistant("Для расчёта оставьте, пожалуйста, номер телефона."),
            Turn::user("номер не дам, напишите цену тут"),
        ]);
        assert!(
            !out.reply
                .contains(replies::question(Language::Ru, Field::Phone)),
            "{}",
            out.reply
        );
        assert!(
            out.reply.contains(replies::price_note(Language::Ru)),
            "{}",
            out.reply
        );
    }

    #[test]
    fn short_last_message_keeps_the_conversation_language() {
        let out = reply(vec![
            Turn::user("Сәлеметсіз бе. Мен Алматыда тұрамын, бірақ үйді Талғарда салмақпыз"),
            Turn::assistant("Сәлеметсіз бе! Үйдің ауданы қанша?"),
            Turn::user("100-120 шаршы метр"),
            Turn::assistant("Жақсы. Атыңызды және нөміріңізді жазыңызшы."),
            Turn::user("Айдана, 8 747 120 33 98"),
        ]);
        assert!(out.reply.starts_with("Рахмет, Айдана!"), "{}", out.reply);
    }

    #[test]
    fn customer_who_will_call_gets_the_company_phone() {
        let out = reply(vec![
            Turn::user("hello, how much for a sauna 3x4 in Astana?"),
            Turn::assistant("Hi! Please leave your phone number."),
            Turn::user("ok thanks I'll call you tomorrow"),
        ]);
        assert!(out.reply.contains("+7 700 300 40 50"), "{}", out.reply);
        assert_eq!(questions_asked(&out.reply), 0, "{}", out.reply);
    }

    #[test]
    fn mistyped_phone_is_queried() {
        let out = reply(vec![
            Turn::user("hi need apartment renovation in Shymkent, 2 bedrooms ~70 sqm"),
            Turn::assistant("Hello! Sure. May I have your name and phone?"),
            Turn::user("Sarah, 8 777 123 45 6"),
        ]);
        assert!(
            out.reply.contains(replies::check_phone(Language::En)),
            "{}",
            out.reply
        );
        assert_eq!(out.lead_patch.name.as_deref(), Some("Sarah"));
    }

    #[test]
    fn city_is_asked_again_once_but_area_is_not() {
        let out = reply(vec![
            Turn::user("сколько стоит гараж построить 6 на 4 из блоков"),
            Turn::assistant("Гараж 6×4 из блоков — от 2 млн тенге под ключ. В каком городе?"),
            Turn::user("позвоните мне, обсудим. 87023456789"),
        ]);
        assert!(
            out.reply
                .contains(replies::question(Language::Ru, Field::City)),
            "{}",
            out.reply
        );
        let out = reply(vec![
            Turn::user("хочу дом в Астане"),
            Turn::assistant("Какая площадь?"),
            Turn::user("пока не знаю"),
        ]);
        assert!(
            !out.reply
                .contains(replies::question(Language::Ru, Field::Area)),
            "{}",
            out.reply
        );
        assert!(
            out.reply
                .contains(replies::question(Language::Ru, Field::Name)),
            "{}",
            out.reply
        );
    }

    #[test]
    fn patch_only_holds_new_values() {
        let mut inp = input(vec![
            Turn::user("хочу дом в Астане"),
            Turn::assistant("Какая площадь?"),
            Turn::user("150 квадратов"),
        ]);
        inp.lead.city = Some(City::Astana);
        inp.lead.object_type = Some(ObjectType::House);
        let out = OfflineEngine.respond(&inp);
        assert_eq!(out.lead_patch.city, None);
        assert_eq!(out.lead_patch.object_type, None);
        assert_eq!(out.lead_patch.area_m2, Some(150.0));
    }
}
