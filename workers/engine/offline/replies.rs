//! Reply templates of the offline engine in Russian, Kazakh and English.
//!
//! Templates never state a price or a deadline: anything that needs a calculation is promised
//! as the manager's call. `Mixed` is not a reply language; callers pass the dominant language
//! of the customer's latest message, and `Mixed` falls back to Russian here.

use crate::domain::city::City;
use crate::domain::language::Language;
use crate::domain::object_type::ObjectType;
use crate::domain::price::PriceItem;

/// A lead field the bot can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Object,
    City,
    Area,
    Name,
    Phone,
}

/// Picks the Russian, Kazakh or English variant.
fn pick<T>(lang: Language, ru: T, kk: T, en: T) -> T {
    match lang {
        Language::Kk => kk,
        Language::En => en,
        Language::Ru | Language::Mixed => ru,
    }
}

/// "A manager will contact you shortly": for when no engine answer is available.
pub fn fallback_reply(lang: Language) -> String {
    pick(
        lang,
        "Спасибо за сообщение! Менеджер свяжется с вами в ближайшее время.",
        "Хабарламаңызға рахмет! Менеджер жақын арада сізбен хабарласады.",
        "Thank you for your message! A manager will contact you shortly.",
    )
    .to_string()
}

/// "Please write your message as text": the answer to a voice message.
pub fn voice_not_supported_reply(lang: Language) -> String {
    pick(
        lang,
        "К сожалению, голосовые сообщения пока не поддерживаются. Пожалуйста, напишите текстом.",
        "Кешіріңіз, дауыстық хабарламаларды әзірге қабылдай алмаймыз. Мәтінмен жазыңызшы.",
        "Sorry, voice messages are not supported yet. Please write your message as text.",
    )
    .to_string()
}

pub(crate) fn greeting(lang: Language, company: &str) -> String {
    let company = company.trim();
    if company.is_empty() {
        return pick(lang, "Здравствуйте!", "Сәлеметсіз бе!", "Hello!").to_string();
    }
    match lang {
        Language::Kk => format!("Сәлеметсіз бе! «{company}» компаниясы сізге көмектесуге дайын."),
        Language::En => format!("Hello! This is {company}."),
        Language::Ru | Language::Mixed => format!("Здравствуйте! Вас приветствует «{company}»."),
    }
}

pub(crate) fn thanks(lang: Language, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("{}, {n}!", pick(lang, "Спасибо", "Рахмет", "Thank you")),
        None => pick(lang, "Спасибо!", "Рахмет!", "Thank you!").to_string(),
    }
}

pub(crate) fn noted(lang: Language, items: &[String]) -> String {
    format!(
        "{} {}.",
        pick(lang, "Записал:", "Жазып алдым:", "Noted:"),
        items.join(", ")
    )
}

pub(crate) fn price_note(lang: Language) -> &'static str {
    pick(
        lang,
        "Точную стоимость рассчитает менеджер — она зависит от проекта и материалов.",
        "Нақты бағасын менеджер есептеп береді — ол жобаға және материалдарға байланысты.",
        "Our manager will calculate the exact price — it depends on the project and materials.",
    )
}

/// The company's own price for the customer's object, as its list states it (nothing else: the
/// total for the customer's area is the manager's calculation).
pub(crate) fn price_quote(lang: Language, item: &PriceItem) -> String {
    let object = item.object_type.display_name(lang);
    let (min, max) = (tenge(item.min_per_m2), tenge(item.max_per_m2));
    let range = if item.min_per_m2 == item.max_per_m2 {
        min
    } else {
        format!("{min}–{max}")
    };
    let conditions = item
        .conditions
        .as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    match lang {
        Language::Kk => format!(
            "Біздің бағамыз: {object} — 1 м² үшін {range} ₸{conditions}. Нақты құнын менеджер есептейді."
        ),
        Language::En => format!(
            "Our prices: {object} — {range} ₸ per m²{conditions}. A manager will calculate the exact cost."
        ),
        Language::Ru | Language::Mixed => format!(
            "Наши цены: {object} — {range} ₸ за м²{conditions}. Точную стоимость рассчитает менеджер."
        ),
    }
}

/// 150000 → "150 000".
fn tenge(amount: u32) -> String {
    let digits = amount.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    grouped
}

pub(crate) fn question(lang: Language, field: Field) -> &'static str {
    match field {
        Field::Object => pick(
            lang,
            "Подскажите, что планируете строить или ремонтировать: дом, баню, гараж, квартиру?",
            "Не салуды немесе жөндеуді жоспарлап отырсыз: үй, монша, гараж әлде пәтер ме?",
            "What are you planning to build or renovate: a house, a bathhouse, a garage, an apartment?",
        ),
        Field::City => pick(
            lang,
            "В каком городе или посёлке будет объект?",
            "Нысан қай қалада немесе елді мекенде болады?",
            "In which city or town will the object be?",
        ),
        Field::Area => pick(
            lang,
            "Какая примерно площадь, в квадратных метрах?",
            "Ауданы шамамен қанша шаршы метр?",
            "Roughly what floor area, in square metres?",
        ),
        Field::Name => pick(
            lang,
            "Как к вам можно обращаться?",
            "Сізге қалай жүгінсек болады?",
            "How may I address you?",
        ),
        Field::Phone => pick(
            lang,
            "Оставьте, пожалуйста, номер телефона — менеджер перезвонит и всё рассчитает.",
            "Телефон нөміріңізді қалдырыңызшы — менеджер хабарласып, бәрін есептеп береді.",
            "Please leave your phone number — our manager will call you back with a calculation.",
        ),
    }
}

pub(crate) fn check_phone(lang: Language) -> &'static str {
    pick(
        lang,
        "Кажется, в номере не хватает цифры или есть лишняя — проверьте, пожалуйста.",
        "Нөмірде бір цифр жетпейтін не артық сияқты — тексеріп жіберіңізші.",
        "That number seems to be missing a digit or to have an extra one — could you check it?",
    )
}

pub(crate) fn done(lang: Language, summary: &str, phone: &str) -> String {
    match lang {
        Language::Kk => format!(
            "Өтініміңіз қабылданды: {summary}. Менеджер жақын арада {phone} нөміріне хабарласады."
        ),
        Language::En => {
            format!("Your request is in: {summary}. Our manager will call you at {phone} shortly.")
        }
        Language::Ru | Language::Mixed => format!(
            "Заявка принята: {summary}. Менеджер свяжется с вами по номеру {phone} в ближайшее время."
        ),
    }
}

pub(crate) fn still_done(lang: Language) -> &'static str {
    pick(
        lang,
        "Ваша заявка уже у менеджера, он скоро свяжется с вами.",
        "Өтініміңіз менеджерге жіберілді, ол жақын арада хабарласады.",
        "Your request is already with our manager, who will contact you shortly.",
    )
}

pub(crate) fn off_topic(lang: Language) -> &'static str {
    pick(
        lang,
        "Этот чат — для заказов на строительство и ремонт. Если планируете стройку или ремонт, напишите, что нужно сделать, — с удовольствием поможем.",
        "Бұл чат құрылыс пен жөндеу тапсырыстарына арналған. Құрылыс не жөндеу жоспарласаңыз, не істеу керегін жазыңыз — қуана көмектесеміз.",
        "This chat is for construction and renovation orders. If you are planning a build or a renovation, tell us what you need — we will be glad to help.",
    )
}

pub(crate) fn handoff(lang: Language, have_phone: bool) -> String {
    let base = pick(
        lang,
        "Передаю ваш запрос менеджеру — он подключится в ближайшее время.",
        "Сұрағыңызды менеджерге беремін — ол жақын арада қосылады.",
        "I'm passing your request to a manager, who will join shortly.",
    );
    if have_phone {
        return base.to_string();
    }
    let ask = pick(
        lang,
        "Оставьте, пожалуйста, номер телефона, чтобы менеджер мог вам перезвонить.",
        "Менеджер хабарласа алуы үшін телефон нөміріңізді қалдырыңызшы.",
        "Please leave your phone number so the manager can call you back.",
    );
    format!("{base} {ask}")
}

pub(crate) fn call_us(lang: Language, phone: &str) -> String {
    match lang {
        Language::Kk => format!("Бізге өзіңіз де қоңырау шала аласыз: {phone}."),
        Language::En => format!("You can also call us: {phone}."),
        Language::Ru | Language::Mixed => format!("Вы также можете позвонить нам: {phone}."),
    }
}

pub(crate) fn closing(lang: Language) -> &'static str {
    pick(
        lang,
        "Если появятся вопросы — пишите, будем рады помочь.",
        "Сұрақтарыңыз болса, жазыңыз — көмектесуге әрқашан дайынбыз.",
        "If you have any questions, just write — we're happy to help.",
    )
}

/// «120 м²» / "120 m²", one decimal only when needed.
pub(crate) fn area_text(lang: Language, area: f64) -> String {
    let unit = pick(lang, "м²", "м²", "m²");
    if (area - area.round()).abs() < 0.05 {
        format!("{area:.0} {unit}")
    } else {
        format!("{area:.1} {unit}")
    }
}

/// The object, city and area as a short list for «Записал: …» and the final summary.
pub(crate) fn lead_items(
    lang: Language,
    object: Option<ObjectType>,
    city: Option<City>,
    area: Option<f64>,
) -> Vec<String> {
    let mut items = Vec::new();
    if let Some(o) = object {
        items.push(o.display_name(lang).to_string());
    }
    if let Some(name) = city.and_then(|c| c.display_name(lang)) {
        items.push(name.to_string());
    }
    if let Some(a) = area {
        items.push(area_text(lang, a));
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::price::PriceList;

    #[test]
    fn fixed_replies_exist_in_each_language() {
        for lang in [Language::Ru, Language::Kk, Language::En] {
            assert!(!fallback_reply(lang).is_empty());
            assert!(!voice_not_supported_reply(lang).is_empty());
        }
        assert!(voice_not_supported_reply(Language::En).contains("text"));
        assert!(voice_not_supported_reply(Language::Ru).contains("текстом"));
        assert!(fallback_reply(Language::Kk).contains("Менеджер"));
        assert_eq!(
            fallback_reply(Language::Mixed),
            fallback_reply(Language::Ru)
        );
    }

    #[test]
    fn area_formatting() {
        assert_eq!(area_text(Language::Ru, 120.0), "120 м²");
        assert_eq!(area_text(Language::En, 45.5), "45.5 m²");
    }

    #[test]
    fn a_quote_states_the_list_and_passes_the_guard() {
        let item = PriceItem {
            object_type: ObjectType::House,
            min_per_m2: 150_000,
            max_per_m2: 1_250_000,
            conditions: Some("без отделки".into()),
        };
        let prices = PriceList::parse(vec![item.clone()]).unwrap();
        for lang in [Language::Ru, Language::Kk, Language::En] {
            let quote = price_quote(lang, &item);
            assert!(quote.contains("150 000–1 250 000 ₸"), "{quote}");
            assert!(quote.contains("без отделки"), "{quote}");
            assert_eq!(
                crate::workers::engine::guard::check(&quote, &prices),
                None,
                "{quote}"
            );
        }
    }

    #[test]
    fn no_template_quotes_a_price() {
        for lang in [Language::Ru, Language::Kk, Language::En] {
            for t in [
                price_note(lang),
                closing(lang),
                still_done(lang),
                off_topic(lang),
            ] {
                assert!(!t.chars().any(|c| c.is_ascii_digit()), "{t}");
            }
        }
    }
}
