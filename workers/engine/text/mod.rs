//! The engines' free-text finders: they read the lead's fields and the customer's language out of
//! chat text. Only the engines use them (the offline engine, and the OpenAI engine to normalise a
//! model's tool arguments); what they find are the domain's value types ([`Phone`], [`City`],
//! [`ObjectType`], [`PersonName`], [`Language`]), whose canonical parse is what the API and stored
//! values go through.
//!
//! - [`tokens`]: the tokeniser and letter folding every finder compares words with.
//! - [`lexicon`]: the word lists the finders consult about each other's words (first names, city
//!   forms, object words, number words, Kazakh endings).
//! - [`numbers`]: the number grammar (number words, digit groups), read for the phone and area
//!   finders.
//! - [`phone`], [`city`], [`object_type`], [`area`], [`person_name`]: one finder per lead field;
//!   each returns every mention in a message, and a `pick` (or the caller) chooses among the
//!   mentions of a conversation.
//! - [`language`]: words per language, and the language of a text.
//!
//! Imports go one way, with no circle: `tokens` ← `lexicon` ← `numbers` ← `phone` ← `area`, and
//! `city`, `object_type`, `person_name` and `language` import only `lexicon` and `tokens`. A word
//! one finder needs to know about another's goes into the lexicon, not into an import of that
//! finder.
//!
//! [`Phone`]: crate::domain::phone::Phone
//! [`City`]: crate::domain::city::City
//! [`ObjectType`]: crate::domain::object_type::ObjectType
//! [`PersonName`]: crate::domain::person_name::PersonName
//! [`Language`]: crate::domain::language::Language

pub mod area;
pub mod city;
pub mod language;
pub mod lexicon;
pub mod numbers;
pub mod object_type;
pub mod person_name;
pub mod phone;
#[cfg(test)]
mod proptests;
pub mod tokens;
