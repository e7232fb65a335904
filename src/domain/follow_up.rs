//! Follow-ups ([J]): when a conversation stops before its lead is qualified, the bot writes once
//! more after a while, as a good sales manager would. The company sets how many follow-ups in a row
//! (0 = none), after how long, and their words per language; this module holds the bounds and the
//! built-in words (workers/pipeline/follow_up.rs sends them, the dashboard shows them).

use super::language::Language;

/// Follow-ups in a row without an answer from the customer: a sales manager who writes more than
/// three times unanswered is a nuisance.
pub const MAX_COUNT: i64 = 3;
/// The default: one follow-up.
pub const DEFAULT_COUNT: i64 = 1;
/// The wait after the bot's last message, in minutes: from 10 minutes to 14 days.
pub const MIN_DELAY_MINUTES: i64 = 10;
pub const MAX_DELAY_MINUTES: i64 = 14 * 24 * 60;
/// The default: 24 hours.
pub const DEFAULT_DELAY_MINUTES: i64 = 24 * 60;

/// The built-in follow-up in the customer's language: friendly, a reminder that we are here, and
/// nothing the company has not said (no price, discount or deadline: it must pass the price guard
/// with an empty price list, a test holds it to that).
pub fn default_text(language: Language) -> &'static str {
    match language {
        Language::Kk => {
            "Сәлеметсіз бе! Жақында бізден құрылыс туралы сұрадыңыз. Сұрағыңыз әлі өзекті болса, жазыңыз — көмектесуге және қолайлы нұсқа табуға қуаныштымыз."
        }
        Language::En => {
            "Hello! You asked us about your construction project recently. If it is still on your mind, just write to us — we will be glad to help and find an option that suits you."
        }
        Language::Ru | Language::Mixed => {
            "Здравствуйте! Вы недавно спрашивали у нас о строительстве. Если вопрос ещё актуален, напишите, пожалуйста, — с радостью поможем и подберём удобный вариант."
        }
    }
}
