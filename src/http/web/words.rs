//! The dashboard's words: Russian (the default), Kazakh and English.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ru,
    Kk,
    En,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Ru, Lang::Kk, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::Kk => "kk",
            Lang::En => "en",
        }
    }

    /// What the language switch shows.
    pub fn label(self) -> &'static str {
        match self {
            Lang::Ru => "RU",
            Lang::Kk => "ҚАЗ",
            Lang::En => "EN",
        }
    }

    /// The same language as the engines and the domain name it.
    pub fn language(self) -> crate::domain::language::Language {
        use crate::domain::language::Language;
        match self {
            Lang::Ru => Language::Ru,
            Lang::Kk => Language::Kk,
            Lang::En => Language::En,
        }
    }

    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }
}

/// `key`'s text in `lang`. A key without Kazakh text falls back to Russian. An unknown key is a
/// bug: debug builds (the tests, which render every page) panic on it; release shows nothing.
pub fn t(lang: Lang, key: &str) -> &'static str {
    let (ru, kk, en) = match key {
        "title" => (
            "Salesbot — заявки",
            "Salesbot — өтінімдер",
            "Salesbot — leads",
        ),
        "login" => ("Вход", "Кіру", "Sign in"),
        "register" => (
            "Регистрация компании",
            "Компанияны тіркеу",
            "Register your company",
        ),
        "logout" => ("Выйти", "Шығу", "Sign out"),
        "email" => ("Email", "Email", "Email"),
        "password" => ("Пароль", "Құпиясөз", "Password"),
        "company" => ("Название компании", "Компания атауы", "Company name"),
        "no_account" => (
            "Нет аккаунта? Зарегистрируйте компанию",
            "Аккаунт жоқ па? Компанияны тіркеңіз",
            "No account? Register your company",
        ),
        "have_account" => (
            "Уже есть аккаунт? Войти",
            "Аккаунт бар ма? Кіру",
            "Have an account? Sign in",
        ),
        "bad_credentials" => (
            "Неверный email или пароль.",
            "Email немесе құпиясөз қате.",
            "Incorrect email or password.",
        ),
        "leads" => ("Заявки", "Өтінімдер", "Leads"),
        "empty" => ("Заявок пока нет", "Әзірге өтінім жоқ", "No leads yet"),
        "empty_how" => (
            "Отправьте первое сообщение клиента через API — бот ответит, а заявка появится здесь:",
            "Клиенттің алғашқы хабарын API арқылы жіберіңіз — бот жауап береді, ал өтінім осында пайда болады:",
            "Send a first customer message through the API — the bot answers and the lead appears here:",
        ),
        "empty_telegram" => (
            "Или подключите Telegram-бота компании в «Настройках» (или PUT /api/settings/telegram, документация — /docs).",
            "Немесе компанияның Telegram-ботын «Баптаулар» бетінде қосыңыз (не PUT /api/settings/telegram, құжаттама — /docs).",
            "Or connect your company's Telegram bot in Settings (or PUT /api/settings/telegram, see /docs).",
        ),
        "name" => ("Имя", "Аты", "Name"),
        "phone" => ("Телефон", "Телефон", "Phone"),
        "city" => ("Город", "Қала", "City"),
        "object" => ("Объект", "Нысан", "Object"),
        "area" => ("Площадь, м²", "Ауданы, м²", "Area, m²"),
        "status" => ("Статус", "Мәртебе", "Status"),
        "created" => ("Создана", "Құрылды", "Created"),
        "summary" => ("Кратко", "Қысқаша", "Summary"),
        "conversation" => ("Переписка", "Хат алмасу", "Conversation"),
        "transcript" => (
            "Расшифровка голосового",
            "Дауыстық хабардың мәтіні",
            "Voice note transcript",
        ),
        "customer" => ("Клиент", "Клиент", "Customer"),
        "bot" => ("Бот", "Бот", "Bot"),
        "manager" => ("Менеджер", "Менеджер", "Manager"),
        "not_found" => ("Такой страницы нет.", "Мұндай бет жоқ.", "No such page."),
        "back" => ("← Все заявки", "← Барлық өтінімдер", "← All leads"),
        "change_status" => ("Сменить статус", "Мәртебені өзгерту", "Change status"),
        "loss_reason" => (
            "Причина отказа (для «lost»)",
            "Бас тарту себебі («lost» үшін)",
            "Loss reason (for lost)",
        ),
        "save" => ("Сохранить", "Сақтау", "Save"),
        "mode_bot" => (
            "Диалог ведёт бот.",
            "Диалогты бот жүргізіп отыр.",
            "The bot has this conversation.",
        ),
        "mode_human" => (
            "Диалог ведёт менеджер — бот молчит.",
            "Диалогты менеджер жүргізіп отыр — бот үндемейді.",
            "A manager has this conversation — the bot is silent.",
        ),
        "take_over" => ("Взять диалог", "Диалогты алу", "Take over"),
        "release" => ("Вернуть боту", "Ботқа қайтару", "Hand back to the bot"),
        "reply" => (
            "Ответить клиенту",
            "Клиентке жауап беру",
            "Reply to the customer",
        ),
        "send" => ("Отправить", "Жіберу", "Send"),
        "all" => ("Все", "Барлығы", "All"),
        "qualified_only" => (
            "Только квалифицированные",
            "Тек іріктелген өтінімдер",
            "Qualified only",
        ),
        "search" => (
            "Поиск: имя, телефон, текст",
            "Іздеу: аты, телефон, мәтін",
            "Search: name, phone, text",
        ),
        "filter" => ("Показать", "Көрсету", "Filter"),
        "csv" => ("Скачать CSV", "CSV жүктеу", "Download CSV"),
        "no_match" => (
            "Нет заявок по этому фильтру.",
            "Бұл сүзгі бойынша өтінім жоқ.",
            "No leads match this filter.",
        ),
        "err_status" => (
            "Этот переход статуса невозможен.",
            "Мәртебені бұлай өзгертуге болмайды.",
            "That status change is not possible.",
        ),
        "err_loss_reason" => (
            "Для статуса «lost» нужна причина отказа.",
            "«lost» мәртебесі үшін бас тарту себебі керек.",
            "A lost lead needs a loss reason.",
        ),
        "err_reply" => (
            "Напишите текст ответа.",
            "Жауап мәтінін жазыңыз.",
            "Write the reply's text.",
        ),
        "err_take_over" => (
            "Сначала возьмите диалог у бота.",
            "Алдымен диалогты боттан алыңыз.",
            "Take the conversation over first.",
        ),
        "forbidden" => (
            "Форма устарела. Обновите страницу и отправьте снова.",
            "Форма ескірді. Бетті жаңартып, қайта жіберіңіз.",
            "The form has expired. Reload the page and send it again.",
        ),
        "owner_only" => (
            "Эта страница — только для владельца компании.",
            "Бұл бет тек компания иесіне арналған.",
            "This page is for the company's owner only.",
        ),
        // Conversations
        "conversations" => ("Диалоги", "Диалогтар", "Conversations"),
        "channel" => ("Канал", "Арна", "Channel"),
        "last_message" => ("Последнее сообщение", "Соңғы хабар", "Last message"),
        "mode" => ("Ведёт", "Жүргізуші", "Handled by"),
        "updated" => ("Обновлено", "Жаңартылды", "Updated"),
        "no_conversations" => (
            "Диалогов пока нет.",
            "Әзірге диалог жоқ.",
            "No conversations yet.",
        ),
        "open_lead" => (
            "Заявка клиента →",
            "Клиенттің өтінімі →",
            "The customer's lead →",
        ),
        "back_conversations" => ("← Все диалоги", "← Барлық диалогтар", "← All conversations"),
        // Settings
        "settings" => ("Настройки", "Баптаулар", "Settings"),
        "saved" => ("Сохранено.", "Сақталды.", "Saved."),
        "telegram" => ("Telegram-бот", "Telegram-бот", "Telegram bot"),
        "telegram_none" => (
            "Бот не подключён: вставьте токен от @BotFather.",
            "Бот қосылмаған: @BotFather берген токенді енгізіңіз.",
            "No bot connected yet: paste the token @BotFather gave you.",
        ),
        "telegram_how" => (
            "Сохранение нового токена регистрирует вебхук в Telegram (сохраните токен снова, чтобы зарегистрировать его заново).",
            "Жаңа токенді сақтау вебхукты Telegram-да тіркейді (қайта тіркеу үшін токенді қайта сақтаңыз).",
            "Saving a new token registers the webhook with Telegram (save the token again to register it again).",
        ),
        "bot_token" => ("Токен бота", "Бот токені", "Bot token"),
        "keep_empty" => (
            "пусто — оставить как есть",
            "бос — өзгеріссіз қалдыру",
            "empty keeps the current one",
        ),
        "managers_chat" => (
            "Чат менеджеров (chat id)",
            "Менеджерлер чаты (chat id)",
            "Managers' chat (chat id)",
        ),
        "notify_language" => (
            "Язык уведомлений",
            "Хабарламалар тілі",
            "Notifications' language",
        ),
        "working_hours" => (
            "Рабочие часы (например 09:00-18:00)",
            "Жұмыс уақыты (мысалы 09:00-18:00)",
            "Working hours (e.g. 09:00-18:00)",
        ),
        "webhook_url" => ("Адрес вебхука", "Вебхук мекенжайы", "Webhook address"),
        "assistant" => ("Ассистент", "Ассистент", "Assistant"),
        "about" => (
            "О компании (для ИИ)",
            "Компания туралы (ЖИ үшін)",
            "About the company (for the AI)",
        ),
        "greeting" => ("Приветствие", "Сәлемдесу", "Greeting"),
        "company_phone" => ("Телефон компании", "Компания телефоны", "Company phone"),
        "coalesce" => (
            "Склейка сообщений клиента, мс (0–60000)",
            "Клиент хабарларын біріктіру, мс (0–60000)",
            "Burst coalescing, ms (0–60000)",
        ),
        "budget" => (
            "Месячный бюджет ИИ, $",
            "ЖИ-дің айлық бюджеті, $",
            "Monthly AI budget, USD",
        ),
        "prices" => ("Прайс-лист", "Баға тізімі", "Price list"),
        "prices_how" => (
            "Бот называет только эти цены (₸ за м²) и условия; об остальном — «рассчитает менеджер». Ответ ИИ с другой ценой, скидкой или сроком заменяется.",
            "Бот тек осы бағаларды (1 м² үшін ₸) және шарттарды айтады; қалғанын менеджер есептейді. Басқа баға, жеңілдік не мерзім айтқан ЖИ жауабы ауыстырылады.",
            "The bot quotes only these prices (₸ per m²) and conditions; anything else a manager calculates. An AI reply naming another price, discount or deadline is replaced.",
        ),
        "price_from" => ("От, ₸/м²", "Бастап, ₸/м²", "From, ₸/m²"),
        "price_to" => ("До, ₸/м²", "Дейін, ₸/м²", "To, ₸/m²"),
        "conditions" => (
            "Условия (скидки, сроки — только если обещаете)",
            "Шарттар (жеңілдік, мерзім — тек уәде етсеңіз)",
            "Conditions (discounts, deadlines — only those you promise)",
        ),
        "amocrm" => ("amoCRM", "amoCRM", "amoCRM"),
        "amo_domain" => (
            "Домен (example.amocrm.ru)",
            "Домен (example.amocrm.ru)",
            "Domain (example.amocrm.ru)",
        ),
        "amo_token" => (
            "Долгосрочный токен",
            "Ұзақ мерзімді токен",
            "Long-lived token",
        ),
        "amo_connected" => ("Подключено:", "Қосылған:", "Connected:"),
        "amo_unauthorized" => (
            "amoCRM отклоняет токен — вставьте новый.",
            "amoCRM токенді қабылдамайды — жаңасын енгізіңіз.",
            "amoCRM refuses the token — paste a new one.",
        ),
        "disconnect" => ("Отключить", "Ажырату", "Disconnect"),
        "api_keys" => ("API-ключи", "API кілттері", "API keys"),
        "key_name" => ("Название ключа", "Кілт атауы", "Key name"),
        "scopes" => ("Права", "Рұқсаттар", "Scopes"),
        "create" => ("Создать", "Құру", "Create"),
        "revoke" => ("Отозвать", "Қайтарып алу", "Revoke"),
        "revoked" => ("отозван", "қайтарылған", "revoked"),
        "last_used" => ("Использован", "Қолданылды", "Last used"),
        "shown_once" => (
            "Скопируйте сейчас — больше он показан не будет:",
            "Қазір көшіріп алыңыз — ол енді көрсетілмейді:",
            "Copy it now — it will not be shown again:",
        ),
        "webhooks" => ("Вебхуки", "Вебхуктар", "Webhooks"),
        "url" => (
            "Адрес (https://…)",
            "Мекенжай (https://…)",
            "URL (https://…)",
        ),
        "events" => ("События", "Оқиғалар", "Events"),
        "description" => ("Описание", "Сипаттама", "Description"),
        "enabled" => ("включён", "қосулы", "enabled"),
        "disabled" => ("отключён", "өшірулі", "disabled"),
        "disabled_for" => (
            "Отключён salesbot из-за ошибок доставки:",
            "Жеткізу қателері салдарынан salesbot өшірді:",
            "Disabled by salesbot for failing deliveries:",
        ),
        "failing_since" => ("Ошибки с", "Қателер басталған уақыт", "Failing since"),
        "enable" => ("Включить", "Қосу", "Enable"),
        "delete" => ("Удалить", "Жою", "Delete"),
        "deliveries" => ("Доставки", "Жеткізулер", "Deliveries"),
        "event" => ("Событие", "Оқиға", "Event"),
        "state" => ("Состояние", "Күйі", "State"),
        "attempts" => ("Попытки", "Әрекеттер", "Attempts"),
        "last_answer" => ("Последний ответ", "Соңғы жауап", "Last answer"),
        "redeliver" => ("Отправить снова", "Қайта жіберу", "Send again"),
        "redelivered" => (
            "Доставка поставлена в очередь снова.",
            "Жеткізу қайта кезекке қойылды.",
            "The delivery is queued again.",
        ),
        "no_deliveries" => (
            "Доставок пока нет.",
            "Әзірге жеткізу жоқ.",
            "No deliveries yet.",
        ),
        "back_settings" => ("← Настройки", "← Баптаулар", "← Settings"),
        "none_yet" => ("Пока нет.", "Әзірге жоқ.", "None yet."),
        // Usage and cost
        "usage" => ("Расходы", "Шығындар", "Usage and cost"),
        "from" => ("С", "Бастап", "From"),
        "to" => ("По", "Дейін", "To"),
        "day" => ("День", "Күн", "Day"),
        "model" => ("Модель", "Модель", "Model"),
        "calls" => ("Вызовы", "Шақырулар", "Calls"),
        "tokens" => (
            "Токены (вход / выход)",
            "Токендер (кіріс / шығыс)",
            "Tokens (in / out)",
        ),
        "audio" => ("Аудио, с", "Аудио, с", "Audio, s"),
        "cost" => ("Стоимость, $", "Құны, $", "Cost, USD"),
        "total" => ("Итого", "Барлығы", "Total"),
        "month_spent" => (
            "Потрачено в этом месяце:",
            "Осы айда жұмсалды:",
            "Spent this month:",
        ),
        "of_budget" => ("из бюджета", "бюджеттен", "of a budget of"),
        "no_budget" => ("бюджет не задан", "бюджет белгіленбеген", "no budget set"),
        "quota_exhausted" => (
            "OpenAI отказывает по оплате — отвечает встроенный движок. С:",
            "OpenAI төлем бойынша бас тартады — кірістірілген қозғалтқыш жауап береді. Басталуы:",
            "OpenAI refuses for billing — the built-in engine answers. Since:",
        ),
        "no_usage" => (
            "За этот период расходов нет.",
            "Бұл кезеңде шығын жоқ.",
            "No usage in this period.",
        ),
        // Queue
        "queue" => ("Очередь", "Кезек", "Queue"),
        "kind" => ("Тип задачи", "Тапсырма түрі", "Job kind"),
        "runnable" => ("Ждут", "Күтуде", "Waiting"),
        "scheduled" => ("Отложены", "Кейінге қалдырылған", "Scheduled"),
        "running" => ("Выполняются", "Орындалуда", "Running"),
        "blocked" => (
            "За предыдущими",
            "Алдыңғыларының артында",
            "Behind earlier ones",
        ),
        "dead" => ("Сбой", "Сәтсіз", "Dead"),
        "lag" => ("Задержка, с", "Кідіріс, с", "Lag, s"),
        "paused" => (
            "Обработка задач компании приостановлена оператором.",
            "Компания тапсырмаларын өңдеуді оператор тоқтатты.",
            "An operator has paused your company's jobs.",
        ),
        "queue_empty" => ("Очередь пуста.", "Кезек бос.", "The queue is empty."),
        "dead_jobs" => ("Задачи со сбоем", "Сәтсіз тапсырмалар", "Dead jobs"),
        "error" => ("Ошибка", "Қате", "Error"),
        "died_at" => ("Когда", "Қашан", "When"),
        "retry" => ("Повторить", "Қайталау", "Retry"),
        "retried" => (
            "Задача поставлена в очередь снова.",
            "Тапсырма қайта кезекке қойылды.",
            "The job is queued again.",
        ),
        "no_dead" => (
            "Задач со сбоем нет.",
            "Сәтсіз тапсырма жоқ.",
            "No dead jobs.",
        ),
        "customer_data" => ("Данные клиента", "Клиент деректері", "Customer's data"),
        "export_data" => (
            "Выгрузить данные клиента (JSON)",
            "Клиент деректерін жүктеп алу (JSON)",
            "Export the customer's data (JSON)",
        ),
        "erase_how" => (
            "Удалить клиента и всё, что с ним связано: сообщения, голосовые, заявку, уведомления. \
             Отменить нельзя. Для подтверждения введите id клиента:",
            "Клиентті және онымен байланысты барлығын жою: хабарламалар, дауыстық хабарламалар, \
             өтінім, хабарландырулар. Қайтару мүмкін емес. Растау үшін клиенттің id-ін енгізіңіз:",
            "Erase the customer and everything linked to them: messages, voice notes, the lead, \
             notifications. This cannot be undone. To confirm, type the customer's id:",
        ),
        "erase" => (
            "Удалить данные клиента",
            "Клиент деректерін жою",
            "Erase the customer's data",
        ),
        "err_erase_confirm" => (
            "Введённый id не совпадает с id клиента: ничего не удалено.",
            "Енгізілген id клиенттің id-імен сәйкес емес: ештеңе жойылмады.",
            "The id typed is not the customer's: nothing was erased.",
        ),
        "erased" => (
            "Данные клиента удалены.",
            "Клиент деректері жойылды.",
            "The customer's data was erased.",
        ),
        "follow_ups" => (
            "Напоминания клиентам",
            "Клиенттерге еске салу",
            "Follow-ups",
        ),
        "follow_ups_how" => (
            "Если клиент замолчал до того, как заявка стала квалифицированной, бот напишет ему ещё раз — в рабочие часы менеджеров. Любое сообщение клиента отменяет напоминание. Пустой текст — встроенный.",
            "Өтінім біліктілікке жеткенге дейін клиент үнсіз қалса, бот оған тағы бір рет жазады — менеджерлердің жұмыс уақытында. Клиенттің кез келген хабарламасы еске салуды тоқтатады. Бос мәтін — кірістірілген мәтін.",
            "When a customer goes quiet before the lead is qualified, the bot writes once more, in the managers' working hours. Any message from the customer cancels it. An empty text is the built-in one.",
        ),
        "follow_ups_count" => (
            "Сколько напоминаний подряд (0 — не напоминать)",
            "Қатарынан неше рет еске салу (0 — еске салмау)",
            "Follow-ups in a row (0: none)",
        ),
        "follow_ups_delay" => (
            "Через сколько минут после последнего сообщения бота",
            "Боттың соңғы хабарламасынан кейін неше минуттан соң",
            "Minutes after the bot's last message",
        ),
        "follow_ups_text" => ("Текст напоминания", "Еске салу мәтіні", "Follow-up text"),
        "retention" => ("Хранение данных", "Деректерді сақтау", "Data retention"),
        "retention_days" => (
            "Хранить сообщения, дней (пусто — бессрочно)",
            "Хабарламаларды сақтау, күн (бос — мерзімсіз)",
            "Keep messages for days (empty: forever)",
        ),
        "retention_how" => (
            "Сообщения, расшифровки и журналы вебхуков старше этого срока удаляются; заявки остаются.",
            "Осы мерзімнен ескі хабарламалар, транскрипттер және вебхук журналдары жойылады; өтінімдер қалады.",
            "Messages, transcripts and webhook logs older than this are deleted; leads are kept.",
        ),
        _ => {
            debug_assert!(false, "the dashboard has no text for `{key}`");
            ("", "", "")
        }
    };
    match lang {
        Lang::Ru => ru,
        Lang::Kk if kk.is_empty() => ru,
        Lang::Kk => kk,
        Lang::En => en,
    }
}
