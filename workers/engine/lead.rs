//! Lead extraction from a whole conversation: the pure function behind both the offline
//! engine and `salesbot extract`.
//!
//! Only the customer's words are read for values. The bot's messages give context: what it
//! just asked (a bare «Ербол» after «как вас зовут?» is a name, «120» after «какая площадь?»
//! an area), the company's own phones and the bot's own name (never the customer's), and
//! whether it already turned the chat away as not a customer's. Later values replace earlier
//! ones (corrections), except where a finder ranks evidence (a contact person's name beats the
//! customer's own; the build city beats where the customer lives).

use crate::domain::city::City;
use crate::domain::object_type::ObjectType;
use crate::domain::phone::Phone;
use crate::domain::qualification::is_qualified;

use super::intent::{self, Asked, SpamSignals};
use super::text::area::{self, AreaContext};
use super::text::city::{self, CityMention};
use super::text::object_type::{self, ObjectMention};
use super::text::person_name::{self, NameContext, NameEvidence, NameMention};
use super::text::phone;
use super::text::tokens::{fold, tokenize};
use super::{Role, Turn};

/// The lead read from a conversation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtractedLead {
    pub name: Option<String>,
    pub phone: Option<Phone>,
    pub city: Option<City>,
    pub object_type: Option<ObjectType>,
    pub area_m2: Option<f64>,
    /// Spam or off-topic chat: every field above is `None`.
    pub off_topic: bool,
}

impl ExtractedLead {
    /// The qualification rule (see [`is_qualified`]).
    pub fn qualified(&self) -> bool {
        is_qualified(
            self.phone.as_ref(),
            self.city,
            self.object_type,
            self.area_m2,
        )
    }
}

/// Reads the lead out of `turns` (see the module doc).
pub fn extract_lead(turns: &[Turn]) -> ExtractedLead {
    let mut bot_phones: Vec<Phone> = Vec::new();
    let mut bot_names: Vec<String> = Vec::new();
    let mut bot_rejected = false;
    let mut asked = Asked::default();
    let mut bot_areas: Vec<f64> = Vec::new();

    let mut phone: Option<Phone> = None;
    let mut area: Option<f64> = None;
    let mut names: Vec<NameMention> = Vec::new();
    let mut cities: Vec<CityMention> = Vec::new();
    let mut objects: Vec<ObjectMention> = Vec::new();
    let mut spam = SpamSignals::default();

    for turn in turns {
        if turn.role == Role::Assistant {
            let tokens = tokenize(&turn.text);
            let spans = phone::find_in_tokens(&tokens);
            let mut skip = vec![false; tokens.len()];
            for p in &spans {
                skip[p.first..=p.last].fill(true);
            }
            bot_phones.extend(spans.into_iter().map(|p| p.phone));
            bot_areas = area::find_in_tokens(&tokens, &skip, AreaContext::default())
                .into_iter()
                .map(|m| m.value)
                .collect();
            // The bot's own name («Меня зовут Алина») must not become the customer's.
            bot_names.extend(
                person_name::find_in_tokens(&tokens, NameContext::default())
                    .into_iter()
                    .filter(|m| m.evidence == NameEvidence::Intro)
                    .map(|m| fold(m.name.as_str())),
            );
            bot_rejected |= intent::bot_rejects_folded(&intent::folded_text(&tokens));
            asked = intent::asked_in(&tokens);
            continue;
        }
        let tokens = tokenize(&turn.text);

        let spans = phone::find_in_tokens(&tokens);
        let mut skip = vec![false; tokens.len()];
        for p in &spans {
            skip[p.first..=p.last].fill(true);
        }
        // A number the bot gave first is the company's, even if the customer repeats it.
        if let Some(p) = spans
            .into_iter()
            .map(|p| p.phone)
            .rfind(|p| !bot_phones.contains(p))
        {
            phone = Some(p);
        }

        let runs: Vec<(usize, usize)> = phone::digit_runs(&tokens)
            .into_iter()
            .filter(|r| r.digit_count(&tokens) >= 7)
            .map(|r| (r.first, r.last))
            .collect();
        let ctx = NameContext {
            asked_name: asked.name,
            phone_spans: &runs,
        };
        names.extend(
            person_name::find_in_tokens(&tokens, ctx)
                .into_iter()
                .filter(|m| !bot_names.contains(&fold(m.name.as_str()))),
        );

        cities.extend(city::find_in_tokens(&tokens));
        objects.extend(object_type::find_in_tokens(&tokens));
        let ctx = AreaContext {
            asked_area: asked.area,
            bot_values: &bot_areas,
        };
        if let Some(m) = area::find_in_tokens(&tokens, &skip, ctx).last() {
            area = Some(m.value);
        }
        spam.merge(intent::spam_signals(
            &intent::folded_text(&tokens),
            &turn.text,
        ));
    }

    let object_type = object_type::pick(&objects);
    if intent::is_off_topic(spam, bot_rejected, object_type.is_some(), area.is_some()) {
        return ExtractedLead {
            off_topic: true,
            ..ExtractedLead::default()
        };
    }
    ExtractedLead {
        name: person_name::pick(&names).map(|n| n.into_string()),
        phone,
        city: city::pick(&cities),
        object_type,
        area_m2: area,
        off_topic: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(turns: &[(&str, &str)]) -> Vec<Turn> {
        turns
            .iter()
            .map(|(r, t)| Turn {
                role: if *r == "u" {
                    Role::User
                } else {
                    Role::Assistant
                },
                text: t.to_string(),
            })
            .collect()
    }

    #[test]
    fn full_lead_over_several_turns() {
        let lead = extract_lead(&conv(&[
            ("u", "здравствуйте хочу построить дом в алматы"),
            ("a", "Какая примерно площадь дома планируется?"),
            ("u", "где-то 150 квадратов, одноэтажный"),
            (
                "a",
                "Как к вам обращаться и по какому номеру с вами связаться?",
            ),
            ("u", "Ерлан, 8 701 234 56 78"),
        ]));
        assert_eq!(lead.name.as_deref(), Some("Ерлан"));
        assert_eq!(lead.phone.as_ref().map(Phone::as_str), Some("+77012345678"));
        assert_eq!(lead.city, Some(City::Almaty));
        assert_eq!(lead.object_type, Some(ObjectType::House));
        assert_eq!(lead.area_m2, Some(150.0));
        assert!(lead.qualified());
    }

    #[test]
    fn bare_answers_use_the_question_context() {
        let lead = extract_lead(&conv(&[
            ("u", "нужна баня в Талгаре"),
            ("a", "Какая площадь?"),
            ("u", "36"),
            ("a", "Как вас зовут?"),
            ("u", "Ербол"),
        ]));
        assert_eq!(lead.area_m2, Some(36.0));
        assert_eq!(lead.name.as_deref(), Some("Ербол"));
        // Without the question the same words mean nothing.
        let lead = extract_lead(&conv(&[("u", "нужна баня в Талгаре"), ("u", "36")]));
        assert_eq!(lead.area_m2, None);
    }

    #[test]
    fn bot_phone_and_bot_name_are_ignored() {
        let lead = extract_lead(&conv(&[
            (
                "a",
                "Здравствуйте! Меня зовут Алина. Наш телефон 8 700 300 40 50.",
            ),
            (
                "u",
                "Алина, здравствуйте, позвоню вам 8 700 300 40 50, нужен гараж в Таразе",
            ),
        ]));
        assert_eq!(lead.phone, None);
        assert_eq!(lead.name, None);
        assert_eq!(lead.city, Some(City::Taraz));
    }

    #[test]
    fn corrected_phone_last_wins() {
        let lead = extract_lead(&conv(&[
            ("u", "Марат, +7 702 118 40 55"),
            ("a", "Спасибо, Марат!"),
            (
                "u",
                "ой, номер неправильный, вот правильный: +7 702 118 40 65",
            ),
        ]));
        assert_eq!(lead.phone.unwrap().as_str(), "+77021184065");
    }

    #[test]
    fn spam_clears_every_field() {
        let lead = extract_lead(&conv(&[
            ("u", "Здравствуйте, вам нужны каменщики? Бригада 5 человек"),
            ("a", "Этот чат для заказчиков строительства."),
            (
                "u",
                "понял. запишите мой номер всё равно 87015558899, Бахыт, Алматы",
            ),
        ]));
        assert!(lead.off_topic);
        assert_eq!(
            lead,
            ExtractedLead {
                off_topic: true,
                ..Default::default()
            }
        );
        assert!(!lead.qualified());
    }
}
