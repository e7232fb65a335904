//! Conversation-level intents read from words: what the bot just asked (so a bare «Ербол» or
//! «120» can be read as the answer), spam and off-topic chat, the customer asking for a human,
//! asking the price, or refusing to leave a phone.
//!
//! Matching runs on a *folded* copy of the message (see `engine::text::tokens::fold`), tokens joined
//! by single spaces, so one pattern covers «Сәлем»/«Салем», «ё»/«е» and any spacing. All
//! regexes are compiled once.

use std::sync::LazyLock;

use regex::Regex;

use super::text::tokens::{Kind, Token, starts_with_any, tokenize};

/// A message folded to lower-case words and symbols separated by single spaces, with a space
/// at both ends so patterns can use ` word ` boundaries.
pub fn folded_text(tokens: &[Token<'_>]) -> String {
    let mut s = String::with_capacity(tokens.iter().map(|t| t.norm.len() + 1).sum::<usize>() + 2);
    s.push(' ');
    for t in tokens {
        s.push_str(&t.norm);
        s.push(' ');
    }
    s
}

/// Which lead fields a bot message asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Asked {
    pub object: bool,
    pub city: bool,
    pub area: bool,
    pub name: bool,
    pub phone: bool,
}

impl Asked {
    pub fn any(&self) -> bool {
        self.object || self.city || self.area || self.name || self.phone
    }
}

fn is_request_word(n: &str) -> bool {
    starts_with_any(
        n,
        &[
            "подскаж",
            "уточн",
            "напиш",
            "укаж",
            "оставь",
            "скаж",
            "назов",
            "пришл",
            "сообщ",
            "жазыныз",
            "калдырыныз",
            "айтыныз",
            "жиберин",
            "please",
            "share",
            "tell",
            "let",
            "send",
            "leave",
            "provide",
            "confirm",
            "подтверд",
            "понадоб",
            "нужн",
            "нужен",
            "нужна",
            "need",
            "керек",
            "требу",
            "могу",
            "можно",
            "could",
            "may",
        ],
    )
}

/// What the bot's message asks for. Only questions and requests count («Склад 24×36 — это 864
/// м²» states an area, it does not ask for one).
pub fn asked(bot_text: &str) -> Asked {
    asked_in(&tokenize(bot_text))
}

/// [`asked`] over an already tokenised message.
pub fn asked_in(tokens: &[Token<'_>]) -> Asked {
    let mut out = Asked::default();
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        let end_of_sentence =
            t.kind == Kind::Sym && matches!(t.raw, "." | "!" | "?" | "\n") || i + 1 == tokens.len();
        if !end_of_sentence {
            continue;
        }
        let sentence = &tokens[start..=i];
        start = i + 1;
        let question = sentence.iter().any(|t| t.is_sym('?'));
        let request = sentence
            .iter()
            .any(|t| t.is_word() && is_request_word(&t.norm));
        if !question && !request {
            continue;
        }
        let words: Vec<&str> = sentence
            .iter()
            .filter(|t| t.is_word())
            .map(|t| t.norm.as_str())
            .collect();
        let has = |p: &str| words.iter().any(|w| w.starts_with(p));
        let pair = |a: &str, b: &str| words.windows(2).any(|w| w[0] == a && w[1].starts_with(b));
        out.name |= pair("вас", "зовут")
            || has("имя")
            || has("имени")
            || has("обращаться")
            || has("атыныз")
            || has("атыц")
            || has("есимин")
            || pair("ким", "деп")
            || has("name")
            || pair("who", "am")
            || has("хабарласайык") && has("аты");
        out.phone |= has("телефон")
            || has("номер")
            || has("номир")
            || has("phone")
            || has("number")
            || has("whatsapp")
            || has("ватсап")
            || has("связат")
            || has("связи")
            || has("контакт")
            || has("хабарласайык")
            || has("перезвон")
            || pair("who", "should");
        out.city |= has("город")
            || has("кала")
            || has("city")
            || has("town")
            || has("where")
            || words.contains(&"где")
            || has("кайда")
            || has("населен")
            || has("location");
        let sqm_symbol = sentence.windows(2).any(|w| {
            w[0].is_word()
                && matches!(w[0].norm.as_str(), "м" | "m")
                && (w[1].is_sym('²') || w[1].raw == "2")
        });
        out.area |= sqm_symbol
            || has("шаршы")
            || has("площад")
            || has("аудан")
            || has("квадрат")
            || has("размер")
            || has("олшем")
            || has("метраж")
            || has("area")
            || has("size")
            || has("sqm")
            || has("square")
            || pair("how", "big")
            || pair("сколько", "метр");
        out.object |= (words.contains(&"что") && (has("строит") || has("планир") || has("нужно")))
            || (words.contains(&"не") && (has("салгы") || has("салмак") || has("салдыр")))
            || (words.contains(&"what") && (has("build") || has("plan") || has("need")));
    }
    out
}

const JOB: &str = r"(?x)
        \ (ищу|ищем)\ (работу|подработку|ваканси) | looking\ for\ (a\ )?(job|work|position|vacanc)
        | ваканси | vacanc | резюме | \ cv\  | трудоустр | на\ работу | are\ you\ hiring
        | \ жумыс\ (издеп|издеймин|керек|бар\ ма)
        | \ (я|мен|i\ am|i'm)\ (опытный\ |experienced\ )?(сварщик|каменщик|плиточник|штукатур|маляр|электрик|сантехник|отделочник|кровельщик|монтажник|бетонщик|плотник|столяр|водитель|экскаваторщик|крановщик|прораб|welder|mason|bricklayer|plumber|electrician|painter|carpenter)
        | (сварщик|каменщик|плиточник|штукатур|маляр|электрик|сантехник|отделочник|кровельщик|монтажник|бетонщик|плотник|столяр|курылысшы|жумысшы)(пын|пин|мын|мин|бын|бин)\ 
        ";

/// Worker trades a job seeker offers («вам нужны каменщики?»).
const WORKERS: &str = "(сварщик|каменщик|плиточник|штукатур|маляр|электрик|сантехник|разнорабоч|отделочник|кровельщик|монтажник|бетонщик|арматурщик|плотник|столяр|водител|экскаваторщик|крановщик|бригад|строител|рабоч|жумысшы|курылысшы|welder|mason|bricklayer|plumber|electrician|painter|carpenter|worker|builder|labou?rer|driver)";

/// «вам нужны каменщики?», «нужны ли вам рабочие», «жұмысшы керек емес пе», "do you need
/// workers": the writer offers labour to the company.
fn offers_labour() -> String {
    let w = WORKERS;
    format!(
        r"(?x)
        \ (вам|вашей\ компании|сиздерге|сизге)\ (\S+\ ){{0,3}}(нужн|требу|керек)\S*\ (ли\ )?(\S+\ ){{0,2}}{w}
        | (нужн|требу)\S*\ ли\ (вам\ )?(\S+\ ){{0,2}}{w}
        | {w}\S*\ (\S+\ ){{0,2}}керек\ (емес\ )?пе
        | do\ you\ need\ (\S+\ ){{0,2}}{w} | are\ you\ hiring
        "
    )
}

const ADS: &str = r"(?x)
        \ предлагаем\  | (предлага|предложить)\S*\ (\S+\ ){0,2}(услуг|сотрудничеств) | (my|our)\ services | \ seo | \ smm\  | продвижени | маркетинг
        | лидогенерац | crypto | крипт | \ earn\  | заработ | пассивн\w*\ доход | инвестиц
        | казино | casino | dear\ partner | partnership | сотрудничеств | усынамыз | жарнама
        | \ we\ offer\  | promotion | (хотим|хочу|можем|могу|готовы|готов)\ предложить
        | \ (сда[юем]\S*|предоставля\S*)\ (\S+\ ){0,3}в\ аренду | спецтехник | субподряд | subcontract | предоставляем | оказываем | we\ provide | our\ company\ offers
        | (нужн\S*\ ли\ вам|вам\ (не\ )?нужн\S*)\ (\S+\ ){0,2}(поставк|материал|товар|продукци|услуг)
        ";

const SELLER: &str = r"(?x)
        \ (продаем|продаю|продам|продаются|реализуем|поставляем|отпускаем|сатамыз|сатамын)\  | \ оптом\  | оптов | самовывоз
        | wholesale | we\ sell | we\ supply | \ selling\  | for\ sale | сатылады | продается | продаётся
        | у\ нас\ (\S+\ ){0,2}(скидк|акци|распродаж|в\ наличии) | в\ наличии | доставка\ по\ | прайс-лист
        ";

/// Buying or renting ready property, either word order: «хочу купить дом», «сдаёте склады в
/// аренду?», "rent an office".
fn buy_or_rent() -> String {
    let verb = r"(купить|куплю|покупаю|покупка|покупке|приобрести|приобрету|buy|buying|purchase|сатып\ ал\S*|снять|сниму|снимем|сда[юме]\S*|сдам|аренд\S*|rent\S*|lease|жалга\S*)";
    let property = r"(квартир|дом|коттедж|house|apartment|flat|home|уй|патер|участ|land|plot|жер|офис|office|склад|warehouse|помещени|магазин|гараж|garage|бокс)";
    format!(r"\ {verb}\ (\S+\ ){{0,3}}{property}|\ {property}\S*\ (\S+\ ){{0,3}}{verb}")
}

const BUILD: &str = r"(постро|строит|стройк|строим|ремонт|отделк|залить|возвест|пристро|утепл|build|construct|renovat|repair|\ салу|салгы|салып|салдыр|салмак|салатын|салайык|жасау|жасай|жондеу)";

/// The customer wants something: «нужна», «хочу», «керек», "need", "looking for".
const WANTS: &str = r"(?x)
        \ (нуж[еноы]\S*|хочу|хотим|хотел\S*|планиру\S*|интересу\S*|требуется|надо|керек|кажет|жоспар\S*|кызыг\S*)\ 
        | \ (need|needs|want|wants|looking\ for|planning|plan|interested|would\ like|'d\ like|require)\ 
        ";

const MEDIUM: &str = r"(реклам|\ сайт|клиентов|заявок|партнер|http|www|t \. me|\ кредит|\ займ)";

static BOT_REJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (нам|пока|это)\ (\S+\ )?не\ (требуется|интересно|нужно|актуально)
        | не\ интересно | не\ нуждаемся | только\ для | для\ заказчиков | по\ вакансиям | ваканси
        | hr\ @ | only\ for | only\ handle | inquiries\ only | requests\ only | not\ interested
        | арналган | (рахмет|бизге)\S*\ (\S+\ )?кажет\ емес | кызыкты\ емес
        ",
    )
    .expect("bot reject regex")
});

/// The spam-related patterns, compiled once: job seekers, labour offers, ads, sellers, buyers
/// and renters, building words, wanting words, weak ad hints.
struct SpamPatterns {
    job: Regex,
    labour: Regex,
    ads: Regex,
    seller: Regex,
    buy_or_rent: Regex,
    build: Regex,
    wants: Regex,
    medium: Regex,
}

static SPAM: LazyLock<SpamPatterns> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(p).expect("spam pattern");
    SpamPatterns {
        job: re(JOB),
        labour: re(&offers_labour()),
        ads: re(ADS),
        seller: re(SELLER),
        buy_or_rent: re(&buy_or_rent()),
        build: re(BUILD),
        wants: re(WANTS),
        medium: re(MEDIUM),
    }
});

/// Spam evidence in the customer's own words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpamSignals {
    /// Job seekers and advertisers: off-topic whatever else they say.
    pub strong: bool,
    /// Sellers and buyers/renters of ready property: off-topic unless they also ask to build.
    pub trade: bool,
    /// Weak hints (ads words, links): off-topic only when nothing is asked to be built.
    pub weak: bool,
    /// The customer talks about building or renovating.
    pub build: bool,
    /// The customer says they need or want something.
    pub wants: bool,
}

impl SpamSignals {
    pub fn merge(&mut self, o: SpamSignals) {
        self.strong |= o.strong;
        self.trade |= o.trade;
        self.weak |= o.weak;
        self.build |= o.build;
        self.wants |= o.wants;
    }
}

/// Spam evidence in one customer message (`folded` from [`folded_text`], `raw` as typed).
pub fn spam_signals(folded: &str, raw: &str) -> SpamSignals {
    let lower_raw = raw.to_lowercase();
    let link =
        lower_raw.contains("t.me/") || lower_raw.contains("http") || lower_raw.contains("www.");
    let p = &*SPAM;
    SpamSignals {
        strong: p.job.is_match(folded) || p.labour.is_match(folded) || p.ads.is_match(folded),
        trade: p.seller.is_match(folded) || p.buy_or_rent.is_match(folded),
        weak: link || p.medium.is_match(folded),
        build: p.build.is_match(folded),
        wants: p.wants.is_match(folded),
    }
}

/// The bot's message turns the chat away as not a customer's («этот чат для заказчиков»,
/// «спасибо, не интересно»).
pub fn bot_rejects(bot_text: &str) -> bool {
    bot_rejects_folded(&folded_text(&tokenize(bot_text)))
}

/// [`bot_rejects`] over a message already passed through [`folded_text`].
pub fn bot_rejects_folded(folded: &str) -> bool {
    BOT_REJECT.is_match(folded)
}

/// Decides off-topic for a whole conversation. `has_object` / `has_area`: the customer named
/// an object type / an area.
pub fn is_off_topic(
    user: SpamSignals,
    bot_rejected: bool,
    has_object: bool,
    has_area: bool,
) -> bool {
    if user.strong {
        return true;
    }
    if user.trade && !(user.build && has_object) {
        return true;
    }
    // An order shows as a build verb, an area, or wanting a named object.
    let orders = user.build || has_area || (user.wants && has_object);
    if bot_rejected {
        return !orders;
    }
    user.weak && !orders && !has_object
}

static HUMAN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (позов|позвать|соедин|переключ|дайте|хочу|можно|прошу|нужен|нужно|давайте|свяжите|пригласите)\S*\ (меня\ )?(с\ |со\ )?(\S+\ )?(менеджер|оператор|человек|специалист|консультант|руководител|директор|живым|живой|живого|сотрудник)
        | поговорить\ (с|со)\ (\S+\ )?(менеджер|человек|оператор|живым|специалист|сотрудник|консультант)
        | живой\ человек | живым\ человеком | с\ ботом | с\ роботом
        | (менеджер|оператор|адам)(мен|ди|ды|ге|га)\ (\S+\ )?(сойлес|шакыр|косыныз|байланыстыр)
        | тири\ адам | менеджер\ керек | оператор\ керек
        | (talk|speak|chat)\ (to|with)\ (a\ |an\ |the\ |your\ )?(real\ |live\ |human\ )?(person|human|manager|operator|agent|someone|representative|sales)
        | real\ person | live\ agent | human\ please | connect\ me\ (to|with)
        | (get|call)\ (me\ )?(a\ |the\ |your\ )?manager
        ",
    )
    .expect("human regex")
});

/// The customer asks for a human manager or operator.
pub fn wants_human(text: &str) -> bool {
    HUMAN.is_match(&folded_text(&tokenize(text)))
}

static PRICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        сколько\ (будет\ )?сто(ит|ят|ить) | \ цен[аыуе]\  | стоимост | почем | прайс | во\ сколько\ обойд | расценк
        | багас | канша\ (турады|болады|туратын) | \ куны\  | how\ much | \ price | \ cost | \ quote | estimate
        ",
    )
    .expect("price regex")
});

/// The customer asks about the price.
pub fn asks_price(text: &str) -> bool {
    PRICE.is_match(&folded_text(&tokenize(text)))
}

static NO_PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        номер\ не\ дам | не\ дам\ (свой\ )?номер | без\ номера | не\ (хочу|буду)\ (давать|оставлять)\ (свой\ )?(номер|телефон)
        | (сам|сама)\ (позвоню|наберу|перезвоню) | номир\S*\ бермейм | номер\S*\ бермейм | озим\ (хабарласам|звоню|хабарласамын)
        | i'll\ call\ you | i\ will\ call\ you | no\ phone | rather\ not\ (give|share)
        ",
    )
    .expect("no phone regex")
});

/// The customer declines to leave a phone or says they will call themselves.
pub fn refuses_phone(text: &str) -> bool {
    NO_PHONE.is_match(&folded_text(&tokenize(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spam(text: &str) -> SpamSignals {
        let t = tokenize(text);
        spam_signals(&folded_text(&t), text)
    }

    #[test]
    fn asked_fields() {
        let a = asked("Здравствуйте! Какая площадь планируется?");
        assert!(a.area && !a.name);
        let a = asked("Как к вам обращаться и по какому номеру с вами связаться?");
        assert!(a.name && a.phone);
        let a = asked("Атыңыз кім, қалай хабарласайық?");
        assert!(a.name && a.phone);
        assert!(!asked("Склад 24×36 — это 864 м². Какие сроки?").area);
        assert!(asked("Hello! In which city will the house be built?").city);
        assert!(!asked("Меня зовут Алина, я менеджер компании.").name);
        assert!(asked("Подскажите имя и телефон.").name);
    }

    #[test]
    fn job_seekers_and_ads_are_strong_spam() {
        assert!(spam("Здравствуйте, вам нужны каменщики? Бригада 5 человек").strong);
        assert!(spam("сіздерге жұмысшы керек емес пе? Мен сварщикпін").strong);
        assert!(spam("Предлагаем услуги SEO-продвижения сайта").strong);
        assert!(spam("Earn 500$ daily with our crypto platform").strong);
        assert!(spam("Hi, I'm looking for a job as a driver. Do you need drivers?").strong);
        assert!(spam("Продам кирпич б/у, самовывоз").trade);
        assert!(spam("я дизайнер, могу предложить свои услуги вашим клиентам").strong);
        assert!(!spam("нужна бригада, чтобы построить дом").strong);
        assert!(!spam("хочу построить дом 120 м2").strong);
    }

    #[test]
    fn trade_is_spam_unless_building() {
        let s = spam("Продаём газоблок оптом, доставка по всему Казахстану");
        assert!(s.trade && !s.build);
        assert!(is_off_topic(s, false, false, false));
        let s = spam("хочу купить квартиру в Астане");
        assert!(s.trade);
        assert!(is_off_topic(s, false, true, false));
        assert!(spam("Сдаёте ли склады в аренду в Шымкенте?").trade);
        let s = spam("продаю квартиру и хочу построить дом");
        assert!(!is_off_topic(s, false, true, false));
        let s = spam("хотим построить склад под аренду");
        assert!(!is_off_topic(s, false, true, false));
    }

    #[test]
    fn bot_rejection_needs_no_object() {
        assert!(bot_rejects("Здравствуйте, спасибо, пока не требуется."));
        assert!(bot_rejects(
            "Sorry, this chat is for construction inquiries only."
        ));
        assert!(!bot_rejects(
            "ИИН пока не нужен, спасибо! Менеджер позвонит."
        ));
        assert!(!bot_rejects("Предоплата не требуется, замер бесплатный."));
        assert!(is_off_topic(SpamSignals::default(), true, false, false));
        // The bot turned the chat away and the customer never asked to build anything.
        let chat = spam("hey can you recommend a good restaurant in Almaty?");
        assert!(is_off_topic(chat, true, true, false));
        let order = spam("нужна баня в Алматы");
        assert!(!is_off_topic(order, true, true, false));
        assert!(!is_off_topic(SpamSignals::default(), false, false, false));
    }

    #[test]
    fn handoff_requests() {
        assert!(wants_human("позовите менеджера, пожалуйста"));
        assert!(wants_human("Хочу поговорить с живым человеком"));
        assert!(wants_human("менеджермен сөйлескім келеді"));
        assert!(wants_human("can I talk to a person?"));
        assert!(wants_human("соедините с оператором"));
        assert!(!wants_human("менеджер перезвонит?"));
        assert!(!wants_human("хочу построить дом"));
    }

    #[test]
    fn price_questions() {
        assert!(asks_price("сколько стоит гараж построить 6 на 4"));
        assert!(asks_price("бағасы қанша болады"));
        assert!(asks_price("how much for a sauna 3x4?"));
        assert!(!asks_price("хочу баню 6 на 6"));
    }

    #[test]
    fn phone_refusal() {
        assert!(refuses_phone("номер не дам, напишите цену тут"));
        assert!(refuses_phone("хорошо, я сам позвоню на неделе"));
        assert!(refuses_phone("ok thanks I'll call you tomorrow"));
        assert!(!refuses_phone("мой номер 87011234567"));
    }
}
