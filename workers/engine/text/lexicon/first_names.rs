//! Common first names in Kazakhstan: the name finder tells a first name from a surname and
//! undoes case endings toward them; the city finder and language detection leave names alone
//! («Талгат» is a man, not «Талгар»; a name says nothing about the language).

use std::sync::LazyLock;

use crate::workers::engine::text::tokens::{FastSet, fold};

/// Common first names in Kazakhstan (Kazakh, Russian, Latin spellings), folded.
const FIRST_NAMES: &str = "
абай абылай абзал адил адилет адильбек айбар айбек айбол айдар айдос айдын айтуар акжол акбар
акылбек алдияр алибек алижан алихан алмас алмат алпамыс алтынбек амангелди амир амиржан анвар
арлан арман арнур арсен арыстан асан асет аскар аскат асхат аслан асылбек ахмет аян бакыт
бакытжан батыр бахыт бауыржан бейбит бейбарыс бекарыс бекжан бекзат бекнур бекбол бекболат
берик берикбол болат бахтияр галым габит гани дамир данияр даулет дархан дастан даурен диас
димаш досжан думан ельдар елдос ербол ерболат ержан еркебулан еркин ерлан ермек ерназар ернар
ерасыл ербулан есен есенжан жандос жанибек жаксылык жарас жасулан жомарт ибрагим ильяс ислам
кайрат кайсар канат кенжебек куаныш куандык мади магжан максат мадияр марат медет мейрам
мейиржан мирас мухтар мурат мухамед нурбол нурлан нуржан нурсултан нурасыл нуртас нурболат
олжас рауан ринат рустем руслан санжар самат серик серикбол сержан султан сункар талгат
тамерлан темирлан тимур тлеген улан уалихан шынгыс чингиз шокан ермахан ерсин алишер азамат
дидар дияр жанат жангир кадыр саят тагир тулеген абылайхан айдархан нуркен нурдаулет ерсултан
бекасыл ерзат жандар еркежан куат мирлан нурислам нурали тахир шерхан ерканат еркебулан
айгерим айдана айжан айнур айсулу айым акмарал алия аружан асел асель асем айша аяжан балжан
ботагоз гаухар гульнара гульмира гульжан гульнур гулим дана дина динара жазира жанар жанна
жулдыз камила карлыгаш лаура мадина меруерт назерке назгуль салтанат сауле толганай томирис
улжан умит шынар шолпан дарига акбота анеля индира кымбат маржан малика раушан сабина сания
зарина самал арайлым акерке аида дильназ жибек молдир нургуль несибели айсана айганым айкерим
альбина алтынай асемгуль бибигуль галия гульсим жансая жаннат зере кунсулу ляззат мариям
мейрамгуль нурсулу перизат райхан сабира салима сымбат тогжан улбосын шугыла эльмира айзере
акнур амина асия гульдана гульзат данара диляра жания жасмин зауре зульфия карина ляйля
нуржамал римма сара аягоз гаухартас мирас нурай аймира аселя асемай динора
александр алексей анатолий андрей антон аркадий арсений артем артур богдан борис вадим
валентин валерий василий виктор виталий владимир владислав вячеслав геннадий георгий герман
глеб григорий даниил данил данила денис дмитрий евгений егор иван игорь илья кирилл
константин лев леонид максим марк матвей михаил никита николай олег павел петр роман
ростислав святослав семен сергей станислав степан тарас тимофей федор филипп эдуард эрик
юрий яков ярослав эльдар ильдар рамиль ренат радик альберт рафаэль фарид
саша саня шура паша дима женя коля миша вова володя леша алеша сережа толя костя витя ваня
влад слава стас гена гоша гриша рома петя федя юра тема
маша настя катя лена оля таня наташа света юля вика ира аня галя люда надя ксюша лиза даша
лера алена
александра алина алла анастасия ангелина анна антонина валентина валерия вероника виктория
галина дарья евгения екатерина елена елизавета зинаида инна ирина кристина ксения лариса
лидия людмила маргарита марина мария наталья наталия нина оксана олеся ольга полина раиса
светлана софья софия тамара татьяна ульяна юлия яна эльвира диана милана алиса варвара
регина любовь надежда вера
aliya aliia arman aidos yerlan erlan ruslan sarah daniel timur dana john michael david james
robert peter paul tom alex anna maria emma olivia kate laura yerbol nurlan askar dinara aigerim
madina bekzat saule zhanna marat sergey sergei dmitry dmitriy andrey andrei olga elena irina
natalia natalya aslan daniyar dias asel assel aizhan gulnara azamat kairat kanat serik
bauyrzhan olzhas aidana aibek yerzhan ernar nursultan zhanar meruert aruzhan akmaral
mike chris kevin brian steve lisa jennifer jessica emily sophia william richard thomas
george edward henry harry oliver noah liam lucas ethan adam samuel joseph andrew matthew
anthony steven joshua ryan nicholas eric jacob jonathan justin patrick nathan kyle sean
linda barbara elizabeth susan margaret karen nancy helen sandra carol michelle kimberly
amanda stephanie christine catherine julia victoria nicole rachel natasha svetlana tatiana
";

static NAMES: LazyLock<FastSet<&'static str>> =
    LazyLock::new(|| FIRST_NAMES.split_whitespace().collect());

/// Whether a word (any case, any spelling variant that folds the same) is a known first name.
pub fn is_known_first_name(word: &str) -> bool {
    NAMES.contains(fold(word).as_str())
}

/// Whether an already folded word is a known first name (no second fold).
pub fn is_folded_first_name(folded: &str) -> bool {
    NAMES.contains(folded)
}
