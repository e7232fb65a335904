//! Number words in Russian, Kazakh and English and their grammatical role: the number grammar
//! reads them, the name finder rejects them, language detection counts the Kazakh ones as Kazakh.

use std::sync::LazyLock;

use crate::workers::engine::text::tokens::FastMap;

/// The grammatical role of one number word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumWord {
    Zero,
    /// 1–9.
    Unit(u32),
    /// 10–19 (Russian/English single words).
    Teen(u32),
    /// 20–90; Kazakh «он» (10) behaves as a ten because «он екі» = 12.
    Tens(u32),
    /// Russian one-word hundreds: «сто», «двести», … «девятьсот».
    Hundreds(u32),
    /// A multiplying hundred: Kazakh «жүз», English «hundred» («екі жүз» = 200).
    HundredMul,
    /// «тысяча», «мың», «thousand».
    Thousand,
    /// English «and» inside a number («one hundred and twenty»).
    And,
    /// English «a» before hundred/thousand («a hundred»).
    Article,
}

static WORDS: LazyLock<FastMap<&'static str, NumWord>> = LazyLock::new(|| {
    use NumWord::*;
    let mut m = FastMap::default();
    let mut add = |forms: &[&'static str], w: NumWord| {
        for f in forms {
            m.insert(*f, w);
        }
    };
    // Russian (folded: ё→е), with the oblique case forms used in «от ста пятидесяти до …».
    add(&["ноль", "нуль", "ноля", "нуля"], Zero);
    add(
        &[
            "один",
            "одна",
            "одно",
            "одного",
            "одной",
            "одному",
            "одним",
            "одну",
        ],
        Unit(1),
    );
    add(&["два", "две", "двух", "двум", "двумя"], Unit(2));
    add(&["три", "трех", "трем", "тремя"], Unit(3));
    add(&["четыре", "четырех", "четырем", "четырьмя"], Unit(4));
    add(&["пять", "пяти", "пятью"], Unit(5));
    add(&["шесть", "шести", "шестью"], Unit(6));
    add(&["семь", "семи"], Unit(7));
    add(&["восемь", "восьми", "восемью"], Unit(8));
    add(&["девять", "девяти", "девятью"], Unit(9));
    add(&["десять", "десяти", "десятью"], Teen(10));
    add(&["одиннадцать", "одиннадцати"], Teen(11));
    add(&["двенадцать", "двенадцати"], Teen(12));
    add(&["тринадцать", "тринадцати"], Teen(13));
    add(&["четырнадцать", "четырнадцати"], Teen(14));
    add(&["пятнадцать", "пятнадцати"], Teen(15));
    add(&["шестнадцать", "шестнадцати"], Teen(16));
    add(&["семнадцать", "семнадцати"], Teen(17));
    add(&["восемнадцать", "восемнадцати"], Teen(18));
    add(&["девятнадцать", "девятнадцати"], Teen(19));
    add(&["двадцать", "двадцати"], Tens(20));
    add(&["тридцать", "тридцати"], Tens(30));
    add(&["сорок", "сорока"], Tens(40));
    add(&["пятьдесят", "пятидесяти"], Tens(50));
    add(&["шестьдесят", "шестидесяти"], Tens(60));
    add(&["семьдесят", "семидесяти"], Tens(70));
    add(&["восемьдесят", "восьмидесяти"], Tens(80));
    add(&["девяносто", "девяноста"], Tens(90));
    add(&["сто", "ста"], Hundreds(100));
    add(&["двести", "двухсот", "двумстам"], Hundreds(200));
    add(&["триста", "трехсот", "тремстам"], Hundreds(300));
    add(&["четыреста", "четырехсот", "четыремстам"], Hundreds(400));
    add(&["пятьсот", "пятисот", "пятистам"], Hundreds(500));
    add(&["шестьсот", "шестисот", "шестистам"], Hundreds(600));
    add(&["семьсот", "семисот", "семистам"], Hundreds(700));
    add(&["восемьсот", "восьмисот", "восьмистам"], Hundreds(800));
    add(&["девятьсот", "девятисот", "девятистам"], Hundreds(900));
    add(
        &["тысяча", "тысячи", "тысяч", "тысячу", "тысячей", "тысячам"],
        Thousand,
    );
    // English.
    add(&["zero", "oh"], Zero);
    add(&["one"], Unit(1));
    add(&["two"], Unit(2));
    add(&["three"], Unit(3));
    add(&["four"], Unit(4));
    add(&["five"], Unit(5));
    add(&["six"], Unit(6));
    add(&["seven"], Unit(7));
    add(&["eight"], Unit(8));
    add(&["nine"], Unit(9));
    add(&["ten"], Teen(10));
    add(&["eleven"], Teen(11));
    add(&["twelve"], Teen(12));
    add(&["thirteen"], Teen(13));
    add(&["fourteen"], Teen(14));
    add(&["fifteen"], Teen(15));
    add(&["sixteen"], Teen(16));
    add(&["seventeen"], Teen(17));
    add(&["eighteen"], Teen(18));
    add(&["nineteen"], Teen(19));
    add(&["twenty"], Tens(20));
    add(&["thirty"], Tens(30));
    add(&["forty", "fourty"], Tens(40));
    add(&["fifty"], Tens(50));
    add(&["sixty"], Tens(60));
    add(&["seventy"], Tens(70));
    add(&["eighty"], Tens(80));
    add(&["ninety"], Tens(90));
    add(&["hundred"], HundredMul);
    add(&["thousand"], Thousand);
    add(&["and"], And);
    add(&["a"], Article);
    for (stem, w) in KK_STEMS {
        m.insert(*stem, *w);
    }
    m
});

/// Kazakh number words (folded). They take case suffixes («алтыға», «жүзден»), so they are
/// also looked up with one suffix stripped.
const KK_STEMS: &[(&str, NumWord)] = &[
    ("нол", NumWord::Zero),
    ("бир", NumWord::Unit(1)),
    ("еки", NumWord::Unit(2)),
    ("уш", NumWord::Unit(3)),
    ("торт", NumWord::Unit(4)),
    ("бес", NumWord::Unit(5)),
    ("алты", NumWord::Unit(6)),
    ("жети", NumWord::Unit(7)),
    ("сегиз", NumWord::Unit(8)),
    ("тогыз", NumWord::Unit(9)),
    ("он", NumWord::Tens(10)),
    ("жиырма", NumWord::Tens(20)),
    ("отыз", NumWord::Tens(30)),
    ("кырык", NumWord::Tens(40)),
    ("елу", NumWord::Tens(50)),
    ("алпыс", NumWord::Tens(60)),
    ("жетпис", NumWord::Tens(70)),
    ("сексен", NumWord::Tens(80)),
    ("токсан", NumWord::Tens(90)),
    ("жуз", NumWord::HundredMul),
    ("мын", NumWord::Thousand),
];

/// Whether a folded word is a Kazakh number word, with or without a case suffix.
pub fn is_kazakh_number_word(folded: &str) -> bool {
    KK_STEMS.iter().any(|(s, _)| {
        folded
            .strip_prefix(s)
            .is_some_and(|rest| rest.is_empty() || KK_NUM_SUFFIXES.contains(&rest))
    }) && folded != "он"
}

/// Kazakh case suffixes a number word or a number takes («алтыға», «жүзден», «6ға», «4-ке»).
pub const KK_NUM_SUFFIXES: &[&str] = &[
    "ден", "дан", "тен", "тан", "нен", "нан", "дей", "дай", "тей", "тай", "нын", "нин", "дын",
    "дин", "тын", "тин", "га", "ге", "ка", "ке", "на", "не", "да", "де", "та", "те", "ны", "ни",
    "ды", "ди", "ты", "ти",
];

/// Looks a folded word up as a number word; returns the word and any Kazakh suffix stripped.
pub fn num_word(folded: &str) -> Option<(NumWord, Option<&'static str>)> {
    if let Some(w) = WORDS.get(folded) {
        return Some((*w, None));
    }
    for (stem, w) in KK_STEMS {
        if let Some(rest) = folded.strip_prefix(stem)
            && let Some(suf) = KK_NUM_SUFFIXES.iter().find(|s| **s == rest)
        {
            return Some((*w, Some(suf)));
        }
    }
    None
}
