//! Proptest strategies shared by the property tests of the domain's value types
//! (`domain::proptests`) and of the offline engine's text finders (`engine::text::proptests`).
//!
//! Strategies mix `any::<String>()` with text biased toward what the finders look at: Cyrillic
//! with the Kazakh letters, digits and phone punctuation, units, number words, cue words,
//! combining marks, emoji, control characters and letters whose case mapping changes length.

use proptest::prelude::*;
use proptest::sample::select;

use super::language::Language;

/// Few enough cases that each property-test file stays well under the debug-build time budget.
pub(crate) const CASES: u32 = 256;

/// Single characters the tokeniser and finders treat specially, plus ones that break naive
/// assumptions (multi-char case mappings, zero-width and control characters).
pub(crate) fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::char::range('а', 'я'),
        2 => prop::char::range('А', 'Я'),
        3 => select(vec![
            'ә', 'ғ', 'қ', 'ң', 'ө', 'ұ', 'ү', 'һ', 'і', 'Ә', 'Ғ', 'Қ', 'Ң', 'Ө', 'Ұ', 'Ү', 'Һ',
            'І', 'ё', 'Ё', 'ї', 'є', 'ў',
        ]),
        2 => prop::char::range('a', 'z'),
        1 => prop::char::range('A', 'Z'),
        3 => prop::char::range('0', '9'),
        3 => select(vec![
            '+', '(', ')', '-', '.', ' ', ',', '²', '³', '№', '#', '₸', '$', '€', '%', '~', '≈',
            ':', '/', '–', '—', '…', '!', '?', ';', '\'', '’', 'ʼ', '`', '*', '×', '"', '«', '»',
            '@', '_',
        ]),
        2 => select(vec![
            '\n', '\t', '\r', '\u{a0}', '\u{2028}', '\u{3000}', '\0', '\u{7}', '\u{1b}',
            '\u{7f}', '\u{200b}', '\u{200d}', '\u{feff}', '\u{fe0f}', '\u{202e}',
        ]),
        1 => prop::char::range('\u{300}', '\u{36f}'),
        1 => prop::char::range('\u{1f300}', '\u{1faff}'),
        // Letters whose case mapping is not one char to one char (ß → SS, İ → i̇, ﬁ → FI) or
        // crosses scripts (K → k, Ꙋ, ᲀ).
        2 => select(vec![
            'ß', 'ẞ', 'ŉ', 'İ', 'ı', 'ǅ', 'ǈ', 'ﬀ', 'ﬁ', '\u{345}', 'Σ', 'ς', 'ϴ', 'K', 'Ω',
            'ǰ', 'ΐ', 'Ꙋ', 'ᲀ',
        ]),
        1 => any::<char>(),
    ]
}

/// Words and fragments the finders key on, so that random text reaches their deep branches
/// (whitespace-separated).
pub(crate) const VOCABULARY: &str = "
м2 м² м m2 кв кв.м м.кв квадратов квадратных метров метрге шаршы sqm sq ft square площадь общая
соток гектара участок на х x by × до от по или - – ден ға ке -ке этажа этаж қабаты әр каждый
per floor забор длина м³
+7 8 7 77 87 701 (701) 8(777) 87012345678 +77012345678 7012345678 0 00 000 плюс plus ИИН БИН №
# заказ тг тенге млн тыс ₸ $ бюджет цена
ноль нөл один два три четыре пять восемь десять двадцать сорок сто ста двести семьсот тысяча
тысяч бір екі үш төрт торт он жүз мың алтыға сегіз елу жетпіс one hundred and a oh twenty-five
thousand
Меня меня зовут звать Звать атым Атым мен деп я I'm my name is name's this жене мужу звоните
позвоните с хабарласыңыз ағаға апай Ерлан Айгерім Айгерімге Ольге Сергею Бекзатпын Динара
Сериковна Ахметова Нұрсұлтан Талгат Aliya СТО ТОО Здравствуйте да
Алматы Алматыда Алма Ата Астане Нур-Султан Шымкнт Семей семей Усть-Каменогорск Каскелене в из
in живу тұрамын не емес может ул Конаева дом дома үй үйді баня баню гараж коттедж квартиры
пәтерге ремонт склад офис коммерческий летняя кухня ЖК ИЖС баня-беседка home керек салу рахмет
hello Hi
";

pub(crate) fn vocabulary() -> Vec<&'static str> {
    VOCABULARY.split_whitespace().collect()
}

/// A short run of digits, or sometimes a very long one.
fn digit_run() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[0-9]{1,12}", 1 => "[0-9]{13,60}"]
}

pub(crate) fn separator() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(" ".to_string()),
        1 => Just(", ".to_string()),
        1 => Just(". ".to_string()),
        1 => Just("\n".to_string()),
        1 => Just("-".to_string()),
        1 => Just(String::new()),
    ]
}

pub(crate) fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => select(vocabulary()).prop_map(str::to_string),
        3 => tricky_char().prop_map(String::from),
        2 => digit_run(),
        3 => separator(),
    ]
}

/// Chat-like text of up to `pieces` fragments.
pub(crate) fn chat_text_of(pieces: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..pieces).prop_map(|v| v.concat())
}

/// Any text a finder may see: fully arbitrary, or biased toward the finders' alphabet.
pub(crate) fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any::<String>(),
        1 => prop::collection::vec(tricky_char(), 0..300).prop_map(String::from_iter),
        5 => chat_text_of(60),
    ]
}

pub(crate) fn language() -> impl Strategy<Value = Language> {
    select(Language::ALL.to_vec())
}

/// Letters only (what a name is made of), with the ones whose case mapping is not one char to
/// one char.
fn name_letter() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('а', 'я'),
        2 => prop::char::range('А', 'Я'),
        2 => select(vec!['ә', 'ғ', 'қ', 'ң', 'ө', 'ұ', 'ү', 'һ', 'і', 'Ә', 'Қ', 'Ө', 'Ү', 'І']),
        2 => prop::char::range('a', 'z'),
        1 => prop::char::range('A', 'Z'),
        1 => select(vec![
            'ß', 'ẞ', 'ŉ', 'İ', 'ı', 'ǅ', 'ǈ', 'ﬀ', 'ﬁ', '\u{345}', 'Σ', 'ς', 'ϴ', 'K', 'Ω', 'ǰ',
            'ΐ', 'Ꙋ', 'ᲀ',
        ]),
        1 => select(vec!['-', '\'', '’']),
    ]
}

pub(crate) fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any_text(),
        prop::collection::vec(name_letter(), 1..34).prop_map(String::from_iter),
        select(vocabulary()).prop_map(str::to_string),
    ]
}

/// Flips the case of ASCII letters where `mask` says so.
pub(crate) fn mixed_case(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if mask >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}
