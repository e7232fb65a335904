//! The engines' free-text finders: they read the lead's fields and the customer's language out of
//! chat text. Only the engines use them (the offline engine, and the OpenAI engine to normalise a
//! model's tool arguments); what they find are the domain's value types ([`Phone`], [`City`],
//! [`ObjectType`], [`PersonName`], [`Language`]), whose canonical parse is what the API and stored
//! values go through.
//!
//! - [`tokens`]: the tokeniser and letter folding every finder compares words with.
//! - [`numbers`]: number words and digit groups, read for the phone and area finders.
//! - [`phone`], [`city`], [`object_type`], [`area`], [`person_name`]: one finder per lead field;
//!   each returns every mention in a message, and a `pick` (or the caller) chooses among the
//!   mentions of a conversation.
//! - [`language`]: words per language, and the language of a text.
//!
//! [`Phone`]: crate::domain::phone::Phone
//! [`City`]: crate::domain::city::City
//! [`ObjectType`]: crate::domain::object_type::ObjectType
//! [`PersonName`]: crate::domain::person_name::PersonName
//! [`Language`]: crate::domain::language::Language

pub mod area;
pub mod city;
pub mod language;
pub mod numbers;
pub mod object_type;
pub mod person_name;
pub mod phone;
#[cfg(test)]
mod proptests;
pub mod tokens;
