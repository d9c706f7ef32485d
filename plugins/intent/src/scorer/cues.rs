//! The phrases that signal an intent, with their weights, and the matcher.
//!
//! A pattern is one or more phrases separated by `, `. A phrase is a
//! sequence of elements separated by spaces; an element is one or more
//! alternatives separated by `|`, each
//! - a word (`refund`);
//! - a word stem with `*` (`crash*`: crash, crashes, crashed, crashing);
//! - a class in braces: `{neg}` negators, `{me}` first-person subjects,
//!   `{my}` first-person possessives, `{it}` determiners and pronouns for a
//!   thing, `{aux}` auxiliaries and modals;
//!
//! or the element is `~`, up to three words of any kind ("stop ~ use"
//! matches "stopped active use"), or `_`, exactly one word.
//!
//! Patterns match within one sentence. The weights are the probability that
//! the phrase alone means the intent; a post's confidence in an intent
//! combines its cues (see `intents.rs`).

use std::sync::OnceLock;

use super::Intent::{self, ChurnRisk, Complaint, Praise, PurchaseIntent, Question, SupportRequest};
use super::fxhash::FxMap;

/// Cancelled by a negator in the three words before it (within the clause).
pub(crate) const NEG: u16 = 1;
/// When negated, counts as a complaint instead ("not happy", "don't like").
pub(crate) const FLIP: u16 = 2 | NEG;
/// Cancelled by a wish or condition before it ("would love", "if it's good").
pub(crate) const WISH: u16 = 4;
/// Weaker unless the sentence has a first-person subject ("I", "we").
pub(crate) const FIRST: u16 = 8;
/// Stock praise that sarcasm reuses ("great job", "thanks", "wonderful").
pub(crate) const STOCK: u16 = 16;
/// Thanks (which, after a question, is thanks in advance).
pub(crate) const THANKS: u16 = 32;
/// An idiom that contains other cues of its intent and cancels them
/// ("talk crap", "best of luck", "hate mail"); its weight is 0.
pub(crate) const BLOCK: u16 = 64;
/// Counts only in a sentence that asks (ends in `?`): "price", "stores".
pub(crate) const QUESTION: u16 = 128;
/// Counts only at the start of a clause ("Fuck X", not "what the fuck").
pub(crate) const START: u16 = 256;
/// The author reports a fix or answers as the one fixing ("it's fixed
/// now", "we'll look at it"): problem reports in the post are someone
/// else's, so support requests and complaints count less; its weight is 0.
pub(crate) const RESOLVED: u16 = 512;

pub(crate) struct Cue {
    pub(crate) pattern: &'static str,
    pub(crate) intent: Intent,
    pub(crate) weight: f32,
    pub(crate) flags: u16,
}

const fn cue(pattern: &'static str, intent: Intent, weight: f32, flags: u16) -> Cue {
    Cue {
        pattern,
        intent,
        weight,
        flags,
    }
}

#[rustfmt::skip]
pub(crate) static CUES: &[Cue] = &[
    // ---- complaint: judgements of a product or service, and annoyance ----
    cue("suck|sucks|sucked|sucky", Complaint, 0.8, NEG),
    cue("garbage|trash|junk|crap|crappy|shitty|shite", Complaint, 0.75, NEG),
    cue("terrible|horrible|awful|atrocious|abysmal|horrendous|dreadful|appalling", Complaint, 0.8, NEG),
    cue("worst", Complaint, 0.7, NEG),
    cue("useless|unusable|worthless|pointless", Complaint, 0.75, NEG),
    cue("pathetic|unacceptable|ridiculous|absurd|disgraceful|shameful", Complaint, 0.7, NEG),
    cue("disgusting|revolting|gross", Complaint, 0.6, NEG),
    cue("trainwreck|shithole|cesspool|clusterfuck", Complaint, 0.8, NEG),
    cue("dumpster fire", Complaint, 0.8, NEG),
    cue("shit hole", Complaint, 0.8, NEG),
    cue("cancer", Complaint, 0.45, NEG),
    cue("hate|hated|hates|hating|despise|loathe", Complaint, 0.7, NEG),
    cue("annoying|annoyed|annoys|irritating|infuriating|maddening", Complaint, 0.7, NEG),
    cue("frustrating|frustrated|frustration", Complaint, 0.7, NEG),
    cue("disappointed|disappointing|disappointment|letdown", Complaint, 0.75, NEG),
    cue("underwhelmed|underwhelming", Complaint, 0.6, NEG),
    cue("rip off, ripoff|scam|scammed|overpriced|overcharged", Complaint, 0.75, NEG),
    cue("subpar|mediocre|inferior|shoddy", Complaint, 0.65, NEG),
    cue("lame", Complaint, 0.5, NEG),
    cue("stupid|idiotic|moronic|braindead|incompetent", Complaint, 0.55, NEG),
    cue("dumb|lazy|meh|bleh|boring|bland|ugly|creepy", Complaint, 0.45, NEG),
    cue("bullshit|bs|shady|greedy|greed|sellout|invasive|intrusive|spammy", Complaint, 0.5, NEG),
    cue("overrated|clunky|confusing|unintuitive|unreliable|unstable|unresponsive|outdated", Complaint, 0.55, NEG),
    cue("worse|downgrade|regression", Complaint, 0.45, NEG),
    cue("toxic|hostile|rude|unprofessional", Complaint, 0.5, NEG),
    cue("outage|outages|downtime", Complaint, 0.35, NEG),
    cue("spam|ads|advertising", Complaint, 0.2, NEG),
    cue("cash|money grab, bait and switch, nobody|no one asked for, who asked for, what's the point, step backwards|backward, step back", Complaint, 0.6, 0),
    cue("can't|cannot stand", Complaint, 0.7, 0),
    cue("dealbreaker, deal breaker", Complaint, 0.6, NEG),
    cue("sick of", Complaint, 0.75, NEG),
    cue("tired of", Complaint, 0.65, NEG),
    cue("fed up", Complaint, 0.8, NEG),
    cue("had enough", Complaint, 0.6, NEG),
    cue("fuck|fuck'em|fucking", Complaint, 0.2, NEG),
    cue("fuck you|off|them|this|that", Complaint, 0.65, 0),
    cue("fuck _", Complaint, 0.6, START),
    cue("screw you|this|them", Complaint, 0.6, 0),
    cue("wtf|smh|ugh|ffs", Complaint, 0.3, 0),
    cue("bad", Complaint, 0.3, NEG),
    cue("poor|poorly", Complaint, 0.35, NEG),
    cue("slow|laggy|sluggish|bloated", Complaint, 0.3, NEG),
    cue("broken|buggy|glitchy", Complaint, 0.5, NEG),
    cue("mess|nightmare|disaster|fiasco", Complaint, 0.5, NEG),
    cue("is|what|such a joke", Complaint, 0.6, NEG),
    cue("ruin|ruined|ruins|ruining", Complaint, 0.55, NEG),
    cue("downhill", Complaint, 0.6, NEG),
    cue("force|forced|forcing|forces {me}|people|users|everyone|everybody|you|them", Complaint, 0.6, NEG),
    cue("shove|shoving", Complaint, 0.55, NEG),
    cue("push|pushing {me}|people|users|everyone|them", Complaint, 0.35, NEG),
    cue("why can't|cant {me}", Complaint, 0.5, 0),
    cue("why can {me} not", Complaint, 0.5, 0),
    cue("why no|isn't|doesn't|won't, why is there no", Complaint, 0.4, 0),
    cue("fix the|your|this|it|that", Complaint, 0.5, NEG),
    cue("please fix", Complaint, 0.55, 0),
    cue("get rid of", Complaint, 0.4, NEG),
    cue("lack of|lacking|lacks", Complaint, 0.45, NEG),
    cue("limited|no|doesn't|don't support, does not support, not supported", Complaint, 0.5, 0),
    cue("doesn't|don't|didn't|won't work, does not work, not working, never works", Complaint, 0.4, 0),
    cue("doesn't|don't|didn't even work|load|open|show", Complaint, 0.6, 0),
    cue("half the time", Complaint, 0.35, 0),
    cue("makes|made|make no sense, doesn't|didn't|don't make sense, doesn't|didn't make any sense", Complaint, 0.55, 0),
    cue("hard|difficult|impossible|painful to find|use|navigate|read|see|tell|get|scroll|follow|understand|share", Complaint, 0.5, NEG),
    cue("needs|need to be fixed|addressed|improved|reworked, should be fixed", Complaint, 0.5, 0),
    cue("major|huge|massive|big|serious|glaring ~ issue|problem|bug|flaw|oversight", Complaint, 0.6, NEG),
    cue("{neg} like|likes|enjoy|enjoyed|love|trust|recommend", Complaint, 0.5, 0),
    cue("god damn it, goddamn it, damn it, dammit", Complaint, 0.5, 0),
    cue("takes|took|taking forever, waiting forever, wait forever", Complaint, 0.5, 0),
    cue("complain|complaining|complaint", Complaint, 0.3, NEG),
    cue("can't|couldn't|cannot even", Complaint, 0.55, 0),
    cue("still waiting", Complaint, 0.5, 0),
    cue("no response|reply|answer, never answers|responds|replied", Complaint, 0.5, 0),
    cue("{me} demand", Complaint, 0.6, 0),
    cue("refund|refunds", Complaint, 0.45, NEG),
    cue("used to be", Complaint, 0.35, 0),
    cue("not what it used to be", Complaint, 0.7, 0),
    cue("anymore", Complaint, 0.15, 0),
    cue("waste of", Complaint, 0.65, NEG),
    cue("waste|wasting|wasted your|my|our|their time|money, don't|dont bother, do not bother", Complaint, 0.65, 0),
    cue("wasted {my}", Complaint, 0.5, 0),
    cue("{me} lost", Complaint, 0.3, 0),
    cue("unfortunately|sadly", Complaint, 0.3, 0),
    cue("not happening", Complaint, 0.3, 0),
    cue("thanks i hate it", Complaint, 0.8, 0),
    cue("🙄|🤦|😡|🤬|👎|😠|😤|💩", Complaint, 0.5, 0),
    cue(":(", Complaint, 0.25, 0),
    // idioms that are no complaint
    cue("talk|talks|talking|talked crap|shit|trash|smack, crap|shit out of, holy shit|crap, no shit, the shit", Complaint, 0.0, BLOCK),
    cue("hate to say|admit, hate mail, bad ass|badass, not too bad, too bad, not bad", Complaint, 0.0, BLOCK),
    cue("shame|shameless", Complaint, 0.35, NEG),
    cue("misleading|manipulat*", Complaint, 0.3, NEG),
    cue("issue|issues|problem|problems", Complaint, 0.15, NEG),
    // reviews: advice against buying, dissatisfaction, waiting
    cue("don't|dont|never buy|purchase|order, do not buy|purchase|order", Complaint, 0.65, 0),
    cue("steer clear, stay away, avoid|avoiding this|it|them|these|the", Complaint, 0.6, 0),
    cue("look|go|went|spend|shop|take ~ elsewhere", Complaint, 0.5, 0),
    cue("unhappy|dissatisfied|unsatisfied|unsatisfactory|regret|regretted|insulted|disrespected", Complaint, 0.65, NEG),
    cue("sub-par|substandard", Complaint, 0.65, NEG),
    cue("1|one|zero|no star|stars", Complaint, 0.55, 0),
    cue("waited|waiting|took|takes ~ minutes|minute|min|mins|hours|hour|hrs", Complaint, 0.5, NEG),
    cue("not enough, {neg} long|big|loud|bright|strong enough", Complaint, 0.5, 0),
    cue("mortified|appalled|horrified|outraged|livid|furious|angry|pissed|upset|aggravating|aggravated|infuriated|exasperated|embarrassing|embarrassed", Complaint, 0.6, NEG),
    cue("the only|main|biggest problem|issue|complaint|downside|drawback, the problem|issue|trouble i have|had, the problem|issue|trouble is that", Complaint, 0.5, 0),
    cue("not good enough, not worth", Complaint, 0.6, 0),
    // mild judgements said of the thing ("the audio quality is poor",
    // "it was really slow"): predicative, so a verdict, not a description
    cue("is|was|are|were|it's|its|that's|seems|seemed|looks|sounds|feels|felt|tastes|tasted|tasting|remains bad|poor|slow|weak|cheap|flimsy|noisy|bland|mediocre|lacking|dull|faint|awkward|uncomfortable|disappointing|inadequate|unbearable|short", Complaint, 0.6, NEG),
    cue("is|was|are|were|it's|its|that's|seems|seemed|looks|sounds|feels|felt|tastes|tasted very|so|really|too|pretty|quite|rather|kinda|extremely|incredibly|just|also|still|way bad|poor|slow|weak|cheap|flimsy|noisy|bland|mediocre|lacking|dull|faint|awkward|uncomfortable|tinny|cumbersome|difficult|small|loud|quiet|greasy|salty|dry|cold|expensive|pricey|bulky|heavy|thin", Complaint, 0.65, NEG),
    // "too small", "too expensive": more or less than it should be
    cue("too small|big|large|long|short|loud|quiet|soft|heavy|expensive|pricey|costly|bulky|tight|loose|thin|thick|hot|cold|salty|sweet|greasy|oily|dry|slow|noisy|complicated|difficult|weak|dim|flimsy|fragile|fiddly|cramped|crowded|dark|bright|sensitive|much", Complaint, 0.55, NEG),
    cue("too good|late|early, too much fun, too bad", Complaint, 0.0, BLOCK),
    cue("too many issues|problems|bugs|ads|glitches|errors", Complaint, 0.6, NEG),
    // attributive: "poor quality", "bad service", "slow service"
    cue("bad|poor|slow|weak|cheap|lousy|bland|mediocre|terrible|horrible|awful|rude|inattentive|sloppy quality|service|food|experience|design|sound|reception|battery|performance|product|construction|signal|value|customer|staff|taste|flavor|flavour|attitude|attitudes|management|support|workmanship|materials", Complaint, 0.65, NEG),
    cue("{neg} work|works|worked well|right|properly, {neg} work|works|worked very|that|too|so well", Complaint, 0.6, 0),
    cue("cumbersome|tedious|tinny|rickety|overcooked|undercooked|despicable|inexcusable", Complaint, 0.6, NEG),
    cue("wrong size|fit|color|colour", Complaint, 0.55, NEG),
    cue("i've|ive|we've had better, have had better, had way|much|far better", Complaint, 0.6, 0),
    cue("over rated|priced|cooked|fried|hyped|salted|seasoned|done, under cooked|seasoned|staffed|whelming|powered", Complaint, 0.6, NEG),
    cue("taste|tastes|tasted|tasting|smell|smells|smelled|smelt like dirt|crap|shit|cardboard|garbage|rubber|plastic|water|nothing|feet|chemicals|soap|trash", Complaint, 0.65, NEG),
    cue("food poisoning", Complaint, 0.6, 0),
    cue("privacy concern|concerns|nightmare|invasion, invasion of privacy", Complaint, 0.55, NEG),
    // wear and fit of a product: "falls out easily", "won't stay on my ear"
    cue("falls|fall|fell|breaks|break|scratches|scratch|cracks|crack|smudges|smudge|bends|snaps|slips|comes|came|wears ~ easily", Complaint, 0.55, NEG),
    cue("falls|fell|falling|keeps falling out|off", Complaint, 0.45, NEG),
    cue("{neg} stay|stays on|in|put|connected|charged", Complaint, 0.55, 0),
    cue("never brought|came|arrived|showed, gave up and left", Complaint, 0.5, 0),
    // criticism of a platform's motives and moderation: selling data,
    // astroturfing, echo chambers; and sarcasm that it "won't be abused"
    cue("sell|selling|sells|sold ~ {my}|your|our|user|users|personal data, data mining|harvesting|grab, collect|collecting|harvest|harvesting|farm|farming|mine|mining|gather|gathering ~ data, data collection|gathering, sell|selling|sells|sold ~ to advertisers|marketers", Complaint, 0.55, NEG),
    cue("monetize|monetise|monetizing|monetising|monetization|monetisation, ad revenue", Complaint, 0.45, NEG),
    cue("astroturf*|shills|propaganda|censorship|echochamber|hivemind|circlejerk, echo chamber|chambers, thought police", Complaint, 0.5, NEG),
    cue("abused|exploited|gamed|doctored|manipulated|astroturfed|brigaded|botted", Complaint, 0.5, 0),
    cue("kill|killing|phase|phasing off|out the|old", Complaint, 0.5, NEG),
    cue("can|could barely|hardly hear|stomach|eat|see|use|understand|read|breathe", Complaint, 0.55, 0),
    cue("inexcusable|unforgivable|lousy|crummy|horrid|flimsy|unhelpful|uncomfortable|inedible|tasteless|stale|soggy|overcooked|undercooked|filthy|sloppy|careless|unbearable|intolerable|obnoxious|disrespectful|unfriendly|inattentive|cheaply|overhyped|overpriced|unprofessional|laughable|unreadable|unwatchable|uninspired", Complaint, 0.65, NEG),
    cue("sub par, sub standard", Complaint, 0.65, NEG),
    cue("turn off, turnoff, fell|falls|falling apart, piece of junk|crap|shit|garbage", Complaint, 0.65, NEG),
    cue("could|should have been better, not impressed, no effort, zero effort", Complaint, 0.55, 0),
    cue("{neg} recommended|recommending, {neg} _ recommend|recommended|recommending", Complaint, 0.55, 0),
    cue("never see|get another dime|penny|cent", Complaint, 0.6, 0),
    cue("kept|keep|keeps forgetting|messing|screwing, kept|keep|keeps getting it wrong", Complaint, 0.55, 0),
    cue("can't|cannot|cant _", Complaint, 0.5, START),
    cue("can't|cannot|cant wait|complain|beat|believe|thank|say|tell|remember|imagine|see|find|help|get|stop|go|verify|be|really|even|speak|comment|argue|disagree|agree|decide|understand|figure", Complaint, 0.0, BLOCK),

    // ---- praise: approval, enthusiasm, thanks ----
    cue("love|loved|loving|loves|luv", Praise, 0.7, FLIP | WISH),
    cue("love it|this|that|them|you", Praise, 0.75, FLIP | WISH | STOCK),
    cue("awesome|amazing|excellent|fantastic|wonderful|terrific|superb|phenomenal|outstanding|stellar", Praise, 0.7, FLIP | WISH | STOCK),
    cue("perfect|perfection|flawless|brilliant|incredible|marvelous|magnificent", Praise, 0.7, FLIP | WISH | STOCK),
    cue("top notch", Praise, 0.75, FLIP | WISH),
    cue("best", Praise, 0.55, FLIP | WISH),
    cue("favorite|favourite|fave", Praise, 0.55, FLIP | WISH),
    cue("great", Praise, 0.55, FLIP | WISH | STOCK),
    cue("cool|nice|neat|sweet|rad|dope|lit", Praise, 0.45, FLIP | WISH | STOCK),
    cue("good|decent|fine", Praise, 0.3, FLIP | WISH),
    cue("a good one, good idea|stuff|call|find|point|read", Praise, 0.55, FLIP | WISH),
    cue("that's|it's|looks|sounds|seems|is|was|so|very|really|pretty cool|nice|neat|great|good|awesome|amazing|fantastic|useful|helpful", Praise, 0.6, FLIP | WISH),
    // said of the thing in a review: "the bathrooms are clean", "it was quick"
    cue("is|was|are|were clean|comfortable|sturdy|delicious|tasty|fresh|friendly|easy|reliable|solid|decent|crisp|affordable|spotless|attentive", Praise, 0.55, FLIP | WISH),
    cue("fits|fit|fitted comfortably|well|perfectly|great|nicely|snugly|fine", Praise, 0.55, FLIP),
    cue("cool|nice|neat|good|great|awesome|amazing|excellent|handy|solid|low|reasonable feature|features|idea|app|update|tool|stuff|post|design|addition|touch|trick|shot|pic|photo|video|game|book|movie|show|product|service|price|deal|work|item|buy|purchase|quality|value|phone|headset|case|device|unit|charger|battery|sound|screen|camera|food|place|restaurant|staff|experience|meal|dish|selection|atmosphere|ambiance|ambience|spot|choice|company|seller|support|option|job|size|fit|reception|performance|portions|menu|flavor|flavour|taste|prices", Praise, 0.65, FLIP | WISH),
    cue("cool|nice|neat|good|great|awesome|amazing|excellent|solid|reasonable _ feature|features|idea|app|update|tool|stuff|post|design|addition|touch|trick|shot|pic|photo|video|game|book|movie|show|product|service|price|deal|work|item|buy|purchase|quality|value|phone|headset|case|device|unit|charger|battery|sound|screen|camera|food|place|restaurant|staff|experience|meal|dish|selection|atmosphere|ambiance|ambience|spot|choice|company|seller|support|option|job|size|fit|reception|performance|portions|menu|flavor|flavour|taste|prices", Praise, 0.6, FLIP | WISH),
    cue("easy to use|install|set|setup|clean|read|carry|operate|navigate|pair|learn|wear|understand, high quality, must have, a must", Praise, 0.6, FLIP | WISH),
    cue("arrived|came|served|seated|shipped|delivered|responded|fixed|replaced quickly|immediately|promptly|fast|early, right on time, on time", Praise, 0.5, NEG),
    cue("satisfied|satisfying|delightful|pleasant|tremendous|delish|spectacular|exquisite|divine|heavenly|fabulous|excels|excelled", Praise, 0.55, FLIP | WISH),
    cue("convenient|handy|intuitive|smooth|wholesome|underrated", Praise, 0.5, FLIP | WISH),
    cue("lovely|delicious|tasty|yummy|bravo|yay|woohoo|hooray", Praise, 0.55, FLIP | WISH),
    cue("well made|designed|written|thought|crafted|decorated|maintained|organized|organised|built, game changer, lifesaver, life saver, five stars", Praise, 0.7, FLIP | WISH),
    cue("solid|impressive|impressed|beautiful|gorgeous|stunning|elegant|slick|polished", Praise, 0.6, FLIP | WISH),
    cue("helpful|useful|informative|insightful", Praise, 0.5, FLIP | WISH),
    cue("interesting|fascinating", Praise, 0.35, FLIP | WISH),
    cue("fun|funny|hilarious|entertaining", Praise, 0.3, FLIP | WISH),
    cue("genius|legend|legendary|hero|goat", Praise, 0.5, FLIP | WISH),
    cue("thank|thanks|thx|ty|tysm|tyvm|cheers", Praise, 0.7, NEG | STOCK | THANKS),
    cue("thank you", Praise, 0.75, NEG | STOCK | THANKS),
    cue("appreciate|appreciated|grateful|gratitude|kudos|props", Praise, 0.7, FLIP),
    cue("congrats|congratulations", Praise, 0.7, NEG),
    cue("well done|executed, good|great|nice|excellent job|work", Praise, 0.75, NEG | STOCK),
    cue("thumbs up", Praise, 0.65, NEG),
    cue("{me} like|likes", Praise, 0.5, FLIP | WISH),
    cue("{me} really like|likes", Praise, 0.65, FLIP | WISH),
    cue("{me} enjoy|enjoyed|enjoying|enjoys", Praise, 0.6, FLIP | WISH),
    cue("glad|happy|pleased|delighted|thrilled|excited", Praise, 0.4, FLIP | WISH),
    cue("works|worked well|great|perfectly, works|worked quite|really|very|pretty|so well|great", Praise, 0.6, FLIP),
    cue("way|much|far better, so much better", Praise, 0.55, FLIP | WISH),
    cue("better than", Praise, 0.4, FLIP | WISH),
    cue("nothing comes close", Praise, 0.8, 0),
    cue("for life", Praise, 0.55, 0),
    cue("forever", Praise, 0.25, 0),
    cue("all the way", Praise, 0.3, 0),
    cue("is the man, the best", Praise, 0.55, FLIP | WISH),
    cue("rules|rocks", Praise, 0.4, NEG),
    cue("respect", Praise, 0.45, NEG),
    cue("big|huge fan, fan of", Praise, 0.55, FLIP),
    cue("highly|would|definitely recommend", Praise, 0.75, NEG),
    cue("recommend|recommended it|this", Praise, 0.6, NEG),
    cue("❤|♥|😍|🥰|👍|🙏|💯|👏|🎉|🤗|😊|☺|💕|💖|💞|💗", Praise, 0.4, 0),
    cue(":)", Praise, 0.2, 0),
    cue("worth it", Praise, 0.5, FLIP | WISH),
    cue("{me} recommend", Praise, 0.6, NEG),
    cue("recommend avoiding|against|staying", Praise, 0.0, BLOCK),
    cue("can't|cannot beat", Praise, 0.6, 0),
    cue("no problem|problems|issues with, without any|a problem|problems|issue|issues", Praise, 0.5, 0),
    cue("{neg} had|have|having any problem|problems|issue|issues", Praise, 0.5, 0),
    cue("bargain, a steal, great|good value", Praise, 0.45, FLIP | WISH),
    cue("excelent|excellant|exellent|awsome|amazed|impeccable|exceptional|superior|wonderfully|beautifully|nicely|fabulous|sturdy|comfortable|crisp|friendly|attentive|prompt", Praise, 0.5, FLIP | WISH),
    cue("working|works|worked|runs|ran|running great|perfectly|flawlessly|fine|well|beautifully|like a charm", Praise, 0.6, FLIP),
    cue("with no problem|problems|issue|issues, no complaints, nothing to complain about, anything to complain about", Praise, 0.6, 0),
    cue("{neg} disappoint|disappointed, {neg} be disappointed", Praise, 0.6, 0),
    cue("ideal|mmm|mmmm|mmmmm|yum|yummm|scrumptious|delectable|flavorful|flavourful", Praise, 0.5, FLIP | WISH),
    cue("couldn't have been simpler|easier|better|happier, could not have been simpler|easier|better|happier, couldn't be happier|better|easier", Praise, 0.7, 0),
    cue("well finished|built|constructed|packaged|priced, reasonably priced, for the price", Praise, 0.5, FLIP | WISH),
    cue("nicest|finest|greatest|tastiest|coolest|friendliest|freshest|yummiest|cleanest|smoothest|fastest", Praise, 0.55, FLIP | WISH),
    cue("fresh|simple|easy|clean|clear", Praise, 0.25, FLIP | WISH),
    // idioms that are no praise
    cue("doubt ~ back|again|return", PurchaseIntent, 0.0, BLOCK),
    cue("who would|will|is|in ~ gonna|going|want|wants ~ buy|pay", PurchaseIntent, 0.0, BLOCK),
    cue("best of luck, all the best, best wishes, best regards, at best, best case, the best part is that", Praise, 0.0, BLOCK),
    cue("love and hate, love hate, love/hate, love-hate", Praise, 0.0, BLOCK),
    cue("good|great|better|best at, good luck, good morning|night|evening|afternoon|day, good grief, good lord", Praise, 0.0, BLOCK),
    cue("it's|it is|that's incredible|amazing|unbelievable|crazy|funny|interesting that", Praise, 0.0, BLOCK),

    // ---- purchase intent: wanting, planning, asking, or just having bought ----
    cue("take my money", PurchaseIntent, 0.9, NEG),
    cue("shut up and take", PurchaseIntent, 0.9, 0),
    cue("where can|do|should|would {me} buy|get|order|find|purchase|pick", PurchaseIntent, 0.8, 0),
    cue("where to buy|get|order|purchase", PurchaseIntent, 0.8, 0),
    cue("where did you get|buy|find|order", PurchaseIntent, 0.55, 0),
    cue("how much is|are|does|do|for|without|with|would|did", PurchaseIntent, 0.55, 0),
    cue("worth buying|getting|upgrading, worth the money|price", PurchaseIntent, 0.7, NEG),
    cue("should {me} buy|get|order|upgrade|purchase|grab", PurchaseIntent, 0.8, NEG),
    cue("thinking of|about buying|getting|ordering|upgrading|purchasing", PurchaseIntent, 0.85, NEG),
    cue("considering buying|getting|ordering|upgrading|purchasing", PurchaseIntent, 0.8, NEG),
    cue("planning to|on buy|get|order|buying|getting|ordering|upgrade|upgrading", PurchaseIntent, 0.8, NEG),
    cue("going to buy|order|purchase, gonna buy|order|purchase", PurchaseIntent, 0.75, NEG),
    cue("want to buy|order|purchase, wanna buy|order|purchase", PurchaseIntent, 0.8, NEG),
    cue("{me} want that|this|those|these|one", PurchaseIntent, 0.55, NEG),
    cue("{me} need that|this|one", PurchaseIntent, 0.35, NEG),
    cue("{me} would pay|buy, i'd|we'd pay|buy", PurchaseIntent, 0.8, NEG),
    cue("willing to buy|pay|spend", PurchaseIntent, 0.8, NEG),
    cue("i'll|we'll buy|order, will buy, i'll|we'll take it|one|two|them", PurchaseIntent, 0.7, NEG),
    cue("would take it, take it in a heartbeat", PurchaseIntent, 0.7, NEG),
    cue("i'd love to get", PurchaseIntent, 0.55, NEG),
    cue("just|finally bought|ordered|purchased|preordered", PurchaseIntent, 0.8, 0),
    cue("{me} bought|ordered|purchased|preordered|order", PurchaseIntent, 0.45, NEG),
    cue("bought|ordered|purchased|preordered ~ today|yesterday|tonight|week|earlier|morning", PurchaseIntent, 0.75, NEG),
    cue("{my} order|purchase|preorder", PurchaseIntent, 0.35, 0),
    cue("preorder|preorders|preordered, pre order|ordered", PurchaseIntent, 0.5, NEG),
    cue("in stock, sold out", PurchaseIntent, 0.4, 0),
    cue("sign me up", PurchaseIntent, 0.75, 0),
    cue("in the market for, shopping for", PurchaseIntent, 0.8, NEG),
    cue("too poor for, can't|cannot|couldn't afford, saving up for, save up for", PurchaseIntent, 0.55, 0),
    cue("if {me} could buy|get|order", PurchaseIntent, 0.55, 0),
    cue("delivery|shipping|shipped|tracking", PurchaseIntent, 0.3, 0),
    // getting help or money back is not buying
    cue("get|getting|got|find a|my|some|any refund|help|support|answer|answers|response|reply|fix|replacement", PurchaseIntent, 0.0, BLOCK),
    cue("can't wait to get|buy|order|try, need to buy|order|get a|get one", PurchaseIntent, 0.55, NEG),
    cue("price|prices|pricing|cost|costs|store|stores|shop|shops|retailer|retailers|seller|shipping|discount|coupon", PurchaseIntent, 0.4, QUESTION),
    cue("add|added|adding to cart|basket", PurchaseIntent, 0.8, 0),
    cue("wishlist, wish list", PurchaseIntent, 0.5, 0),
    cue("due for an upgrade", PurchaseIntent, 0.75, 0),
    cue("upgrade|upgrading to", PurchaseIntent, 0.4, NEG),
    cue("trading for, looking to buy|trade", PurchaseIntent, 0.6, NEG),
    cue("interested in buying|getting|one", PurchaseIntent, 0.75, NEG),
    cue("recommend any|a|me|some", PurchaseIntent, 0.55, 0),
    cue("which one|model|version|brand should {me}", PurchaseIntent, 0.7, 0),
    // buying again: "will order again", "we'll be back" (to a shop or restaurant)
    cue("order|ordering|buy|buying|get|getting|purchase|purchasing ~ again|another", PurchaseIntent, 0.6, NEG),
    cue("plan on|to ordering|buying|order|buy|getting", PurchaseIntent, 0.75, NEG),
    cue("will|i'll|we'll|definitely|absolutely|def be|come|coming|go|going back", PurchaseIntent, 0.6, NEG | FIRST),
    cue("be|come|coming|go|going back|in ~ again|soon|next|every", PurchaseIntent, 0.6, NEG | FIRST),
    cue("will|definitely|def|gladly return next|soon|again|here|there|every", PurchaseIntent, 0.6, NEG | FIRST),
    cue("can't|cannot wait to go|come back, love to go|come back", PurchaseIntent, 0.6, 0),

    // ---- churn risk: leaving, cancelling, switching away ----
    cue("switch|switching|switched to|over, switch|switching|switched back|away to|from", ChurnRisk, 0.6, NEG | FIRST),
    cue("{me} switched|switch", ChurnRisk, 0.5, NEG),
    cue("a switch to", ChurnRisk, 0.6, NEG | FIRST),
    cue("going|go|went back to", ChurnRisk, 0.5, NEG | FIRST),
    cue("moving|move|moved to a|another|other|new", ChurnRisk, 0.5, NEG | FIRST),
    cue("jump|jumped|jumping ship", ChurnRisk, 0.75, NEG),
    cue("find a new home", ChurnRisk, 0.6, NEG),
    cue("{me} leave|left", ChurnRisk, 0.55, NEG),
    cue("leaving|leave reddit|for, leaving|leave this|the site|platform|app|place|service|community", ChurnRisk, 0.5, NEG | FIRST),
    cue("after leaving", ChurnRisk, 0.6, NEG | FIRST),
    cue("bye bye, goodbye|farewell", ChurnRisk, 0.55, NEG),
    cue("quit|quitting using|reddit|the|this|altogether|entirely", ChurnRisk, 0.75, NEG | FIRST),
    cue("stop|stopped|stopping using|visiting|buying|paying", ChurnRisk, 0.8, NEG | FIRST),
    cue("stopped|stop ~ use", ChurnRisk, 0.55, NEG | FIRST),
    cue("no longer use|using, don't use it anymore, not using it anymore", ChurnRisk, 0.7, FIRST),
    cue("used to use", ChurnRisk, 0.45, FIRST),
    cue("cancel|cancelled|canceled|cancelling|canceling {my}", ChurnRisk, 0.8, NEG),
    cue("cancel|cancelled|canceled|cancelling|canceling the|our subscription|account|membership|plan|service|contract", ChurnRisk, 0.7, NEG),
    cue("unsubscribe|unsubscribed|unsubscribing", ChurnRisk, 0.7, NEG | FIRST),
    cue("uninstall|uninstalled|uninstalling", ChurnRisk, 0.6, NEG | FIRST),
    cue("delete|deleted|deleting {my} account|app", ChurnRisk, 0.8, NEG),
    cue("deactivate|deactivated|deactivating", ChurnRisk, 0.7, NEG),
    cue("done with", ChurnRisk, 0.6, NEG | FIRST),
    cue("i'm|im|we're done", ChurnRisk, 0.45, 0),
    cue("gave|give|giving up on", ChurnRisk, 0.7, NEG | FIRST),
    cue("dealbreaker, deal breaker", ChurnRisk, 0.45, NEG),
    cue("last straw", ChurnRisk, 0.7, 0),
    cue("camel's|camels back", ChurnRisk, 0.6, 0),
    cue("won't renew, not renewing, won't be renewing, never again", ChurnRisk, 0.7, 0),
    cue("never|not coming back, won't be back, never going back", ChurnRisk, 0.75, 0),
    cue("moved|moving on", ChurnRisk, 0.4, FIRST),
    cue("continue to use, keep|continue using", ChurnRisk, 0.2, FIRST),
    cue("time limit on how long", ChurnRisk, 0.6, 0),
    cue("alternative|alternatives", ChurnRisk, 0.3, FIRST),
    cue("looking for|any|good alternative|alternatives|replacement|replacements", ChurnRisk, 0.6, FIRST),
    cue("thinking|considering|contemplating of|about leaving|switching|cancelling|canceling|quitting|dropping|unsubscribing", ChurnRisk, 0.75, NEG),
    cue("considering|contemplating leaving|switching|cancelling|canceling|quitting|dropping|unsubscribing", ChurnRisk, 0.75, NEG),
    // not coming back: "won't be back", "would not go back", "I wouldn't eat here again"
    cue("{neg} ~ be|go|going|come|coming|run|running back", ChurnRisk, 0.7, 0),
    cue("{neg} ~ return|returning", ChurnRisk, 0.55, 0),
    cue("{neg} ~ eat|eating|dine|dining|go|going|come|coming|order|ordering|buy|buying|shop|shopping|visit|step ~ again", ChurnRisk, 0.7, 0),
    cue("doubt ~ be|go|come|coming|going back", ChurnRisk, 0.65, 0),
    cue("last time buying|ordering|eating|shopping|using", ChurnRisk, 0.7, 0),
    cue("take|taking {my} ~ elsewhere", ChurnRisk, 0.75, 0),
    cue("gave up and left, walked out", ChurnRisk, 0.6, 0),
    // returning a product
    cue("return|returning|returned it|them|these|this, return|returning|returned the phone|unit|product|item", ChurnRisk, 0.6, NEG),
    cue("return|returning|returned ~ for a refund", ChurnRisk, 0.6, NEG),
    cue("changing|change|switching carriers|providers|banks", ChurnRisk, 0.6, NEG),
    cue("never see|get another dime|penny|cent, seen the last of me", ChurnRisk, 0.75, 0),
    cue("last ~ for me, last ~ i'll|i|we|we'll ever buy|own|use|order", ChurnRisk, 0.6, 0),
    cue("{neg} ~ from here|there again|anytime|soon|anymore", ChurnRisk, 0.6, 0),
    cue("no|not in a|any hurry to go|come|get|return, in no hurry to go|come|get|return", ChurnRisk, 0.7, 0),
    cue("got|getting outta there, got|getting out of there, left without, walked|walk|walking out", ChurnRisk, 0.6, FIRST),

    // ---- support request: a problem to solve, or how to do something ----
    cue("crash*", SupportRequest, 0.65, NEG | FIRST),
    cue("keeps crashing|freezing|logging", SupportRequest, 0.85, NEG),
    cue("freeze|freezes|freezing|frozen|hangs", SupportRequest, 0.45, NEG),
    cue("error|errors|404|500|traceback", SupportRequest, 0.45, NEG),
    cue("faulty|defective|malfunction|malfunctioning, short circuit", SupportRequest, 0.5, NEG),
    cue("bug report, found a bug", SupportRequest, 0.55, NEG),
    cue("a bug", SupportRequest, 0.55, NEG | FIRST),
    cue("doesn't work, does not work, isn't|not working", SupportRequest, 0.55, FIRST),
    cue("stopped working, fails|failing, continues to fail", SupportRequest, 0.55, 0),
    cue("didn't work, did|do|will|would not work, wouldn't work, never worked", SupportRequest, 0.5, 0),
    cue("{my} ~ broke|cracked|died|snapped|shattered, been ~ breaking, calls drop|dropped|dropping", SupportRequest, 0.55, 0),
    cue("stopped|stops charging|ringing|holding|responding|connecting|syncing|turning|recognizing|recognising|working, completely stopped", SupportRequest, 0.6, 0),
    cue("food poisoning", SupportRequest, 0.55, 0),
    cue("none of it|them|the ~ work|works|worked, there is|was a problem|issue with", SupportRequest, 0.55, 0),
    cue("did not|didn't|doesn't|does not match the|my|its|their, not as described|pictured", SupportRequest, 0.5, 0),
    cue("won't load|open|start, won't let me, doesn't load, not|isn't loading", SupportRequest, 0.65, 0),
    cue("can't|cannot|cant|couldn't log|sign|login|access|see|find|open|load|vote|post|upload|download|connect|seem|get|watch|play|view", SupportRequest, 0.45, 0),
    cue("unable to", SupportRequest, 0.55, 0),
    cue("{my} account", SupportRequest, 0.3, 0),
    cue("locked out, hacked|banned|suspended|shadowbanned", SupportRequest, 0.45, NEG),
    cue("password|passwords|login, log|sign in", SupportRequest, 0.3, 0),
    cue("haven't|never|didn't received|receive, hasn't|never arrived, never came, not delivered", SupportRequest, 0.75, 0),
    cue("where is {my}", SupportRequest, 0.6, 0),
    cue("send me {my}", SupportRequest, 0.45, 0),
    cue("charged twice, double charged, wrong item, damaged", SupportRequest, 0.7, 0),
    cue("never brought|came|arrived|showed|got|received|delivered|sent, forgot|forgotten {my}|our", SupportRequest, 0.55, FIRST),
    cue("dropped|drop|drops|dropping calls|call|coverage|signal|connection|connections, dropped calls, no signal|reception|coverage, lost|loses|losing|lose signal|connection|reception", SupportRequest, 0.55, 0),
    cue("refund", SupportRequest, 0.35, NEG),
    cue("same issue|problem|bug|error, same thing happens, having the same", SupportRequest, 0.65, NEG),
    cue("happens|happening to me, for me too, me too", SupportRequest, 0.3, NEG),
    cue("how do|can {me}", SupportRequest, 0.5, 0),
    cue("how do you change|delete|remove|disable|enable|turn|get|reset|cancel|take|fix|set|undo", SupportRequest, 0.5, 0),
    cue("is there a|any way to", SupportRequest, 0.35, 0),
    cue("please help, help me, can someone|anyone help, need|any help", SupportRequest, 0.65, NEG),
    cue("thanks in advance", SupportRequest, 0.5, 0),
    cue("what am i missing, what am i doing wrong, what's wrong", SupportRequest, 0.45, 0),
    cue("for some reason", SupportRequest, 0.35, 0),
    cue("still|keep getting, keeps|still showing", SupportRequest, 0.45, 0),
    cue("android|ios|iphone|ipad|samsung|galaxy|pixel|xiaomi|moto|lineageos|lineagos|windows|macos|chrome|firefox|safari", SupportRequest, 0.15, 0),
    cue("os|app|latest version, up to date", SupportRequest, 0.3, 0),
    cue("any|a fix, workaround", SupportRequest, 0.3, 0),
    // a product that broke or stopped working
    cue("broke|died ~ after|within|soon|in, broke the first", SupportRequest, 0.6, NEG),
    cue("quit working, no longer working|works, going|goes|went dead, kept going dead", SupportRequest, 0.6, 0),
    cue("doesn't|didn't|won't|wont|neither ~ charge|recharge|hold, does|did|will not ~ charge|recharge|hold", SupportRequest, 0.55, 0),
    cue("can't|cannot|couldn't make|receive calls", SupportRequest, 0.55, 0),
    cue("can't|cant|cannot|couldn't get ~ to work", SupportRequest, 0.6, 0),
    cue("can't|cannot|can|couldn't ~ hear me", SupportRequest, 0.55, 0),
    cue("had|has|have|having a|the|same|new|another problem|issue, had|has|have|having a new|similar problem|issue", SupportRequest, 0.5, NEG),
    cue("problem|issue with {my}|the|this, there is|was|'s a problem|issue", SupportRequest, 0.4, NEG),
    // the author is the one fixing: a reply, not a request
    cue("is|it's|was|been|now|all fixed, fixed now, will be fixed, should be fixed soon|now, should be better|fine now, back to normal", SupportRequest, 0.0, RESOLVED),
    cue("we'll|i'll fix|check|look|investigate, we|i will fix|check|look|investigate, will report|investigate, get back to you, see what i can do", SupportRequest, 0.0, RESOLVED),

    // ---- questions that need no question mark ----
    cue("does|do anyone|anybody know", Question, 0.75, 0),
    cue("anyone|anybody know", Question, 0.7, 0),
    cue("any idea|ideas|suggestions|recommendations|tips|advice", Question, 0.5, 0),
    cue("can|could anyone|someone|somebody|you tell|explain|help|recommend", Question, 0.6, 0),
    cue("quick|one question, have a question", Question, 0.6, 0),
    cue("is there a|any way", Question, 0.6, 0),
    cue("let me know how|if|what|where|when|whether|which", Question, 0.45, 0),
    cue("{me} want to know, i'd like to know, would like to know", Question, 0.5, 0),
    cue("curious how|what|why|if|whether|about", Question, 0.45, 0),
    cue("please explain, explain to me|why|how, eli5", Question, 0.6, 0),
    cue("how do {me}|you", Question, 0.45, 0),
];

/// One alternative of a pattern element.
pub(crate) enum Alt {
    Word(&'static str),
    /// A word starting with this stem.
    Stem(&'static str),
    Class(Class),
}

pub(crate) enum Elem {
    /// Any of these.
    Any(Vec<Alt>),
    /// Up to three words of any kind.
    Gap,
    /// Exactly one word of any kind.
    One,
}

#[derive(Clone, Copy)]
pub(crate) enum Class {
    Neg,
    Me,
    My,
    It,
    Aux,
}

pub(crate) const NEGATORS: &[&str] = &[
    "not",
    "no",
    "never",
    "nothing",
    "nobody",
    "none",
    "neither",
    "nor",
    "without",
    "hardly",
    "barely",
    "cannot",
    "don't",
    "doesn't",
    "didn't",
    "isn't",
    "aren't",
    "wasn't",
    "weren't",
    "won't",
    "wouldn't",
    "can't",
    "couldn't",
    "shouldn't",
    "haven't",
    "hasn't",
    "hadn't",
    "ain't",
    "dont",
    "doesnt",
    "didnt",
    "isnt",
    "arent",
    "wasnt",
    "werent",
    "wont",
    "wouldnt",
    "cant",
    "couldnt",
    "shouldnt",
    "havent",
    "hasnt",
    "aint",
    "nah",
    "nope",
];
pub(crate) const FIRST_PERSON: &[&str] = &[
    "i", "we", "i'm", "im", "i've", "ive", "i'd", "i'll", "we're", "we've", "we'll", "we'd", "me", "us", "myself",
];
pub(crate) const POSSESSIVES: &[&str] = &["my", "our", "mine"];
const THINGS: &[&str] = &[
    "it", "this", "that", "one", "them", "these", "those", "a", "an", "the", "some", "another", "two",
];
pub(crate) const AUXILIARIES: &[&str] = &[
    "is",
    "are",
    "was",
    "were",
    "am",
    "do",
    "does",
    "did",
    "can",
    "could",
    "would",
    "should",
    "will",
    "shall",
    "may",
    "might",
    "must",
    "has",
    "have",
    "had",
    "isn't",
    "aren't",
    "wasn't",
    "don't",
    "doesn't",
    "didn't",
    "can't",
    "won't",
    "wouldn't",
    "shouldn't",
    "haven't",
    "hasn't",
    "couldn't",
];

impl Class {
    fn words(self) -> &'static [&'static str] {
        match self {
            Class::Neg => NEGATORS,
            Class::Me => FIRST_PERSON,
            Class::My => POSSESSIVES,
            Class::It => THINGS,
            Class::Aux => AUXILIARIES,
        }
    }

    pub(crate) fn matches(self, word: &str) -> bool {
        self.words().contains(&word)
    }

    fn parse(name: &str) -> Option<Class> {
        Some(match name {
            "neg" => Class::Neg,
            "me" => Class::Me,
            "my" => Class::My,
            "it" => Class::It,
            "aux" => Class::Aux,
            _ => return None,
        })
    }
}

impl Alt {
    fn parse(s: &'static str) -> Alt {
        if let Some(class) = s
            .strip_prefix('{')
            .and_then(|c| c.strip_suffix('}'))
            .and_then(Class::parse)
        {
            return Alt::Class(class);
        }
        match s.strip_suffix('*') {
            Some(stem) => Alt::Stem(stem),
            None => Alt::Word(s),
        }
    }

    fn matches(&self, word: &str) -> bool {
        match self {
            Alt::Word(w) => *w == word,
            Alt::Stem(stem) => word.starts_with(stem),
            Alt::Class(class) => class.matches(word),
        }
    }
}

impl Elem {
    fn parse(s: &'static str) -> Elem {
        match s {
            "~" => return Elem::Gap,
            "_" => return Elem::One,
            _ => {}
        }
        Elem::Any(s.split('|').map(Alt::parse).collect())
    }

    fn matches(&self, word: &str) -> bool {
        match self {
            Elem::Any(alts) => alts.iter().any(|a| a.matches(word)),
            Elem::Gap | Elem::One => true,
        }
    }
}

/// One phrase of a cue, ready to match.
pub(crate) struct Phrase {
    pub(crate) cue: usize,
    pub(crate) elems: Vec<Elem>,
}

pub(crate) struct Compiled {
    pub(crate) phrases: Vec<Phrase>,
    /// Phrases by the words they can start with.
    by_first: FxMap<&'static str, Vec<usize>>,
    /// Phrases whose first element is not a plain word (tried everywhere).
    anywhere: Vec<usize>,
}

pub(crate) fn compiled() -> &'static Compiled {
    static COMPILED: OnceLock<Compiled> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let mut phrases = Vec::new();
        let mut by_first: FxMap<&'static str, Vec<usize>> = FxMap::default();
        let mut anywhere = Vec::new();
        for (cue, c) in CUES.iter().enumerate() {
            for phrase in c.pattern.split(", ") {
                let elems: Vec<Elem> = phrase.split(' ').filter(|e| !e.is_empty()).map(Elem::parse).collect();
                let index = phrases.len();
                // Index by every word the first element can be; classes
                // are short word lists, so they are indexed too.
                let words: Option<Vec<&'static str>> = match elems.first() {
                    Some(Elem::Any(alts)) => alts.iter().try_fold(Vec::new(), |mut words, a| {
                        match a {
                            Alt::Word(w) => words.push(*w),
                            Alt::Class(c) => words.extend_from_slice(c.words()),
                            Alt::Stem(_) => return None,
                        }
                        Some(words)
                    }),
                    _ => None,
                };
                match words {
                    Some(words) => {
                        for w in words {
                            let list = by_first.entry(w).or_default();
                            if !list.contains(&index) {
                                list.push(index);
                            }
                        }
                    }
                    None => anywhere.push(index),
                }
                phrases.push(Phrase { cue, elems });
            }
        }
        Compiled {
            phrases,
            by_first,
            anywhere,
        }
    })
}

impl Compiled {
    /// Phrases that may start at a word.
    pub(crate) fn candidates(&self, word: &str) -> impl Iterator<Item = &Phrase> + '_ {
        self.by_first
            .get(word)
            .into_iter()
            .flatten()
            .chain(self.anywhere.iter())
            .filter_map(|&i| self.phrases.get(i))
    }
}

/// Where the pattern `elems` matching at `words[0]` ends (exclusive), if it
/// does. `~` tries zero to three words, shortest first; the work per call is
/// bounded by the pattern, not the text.
pub(crate) fn match_len(elems: &[Elem], words: &[&str]) -> Option<usize> {
    let Some((first, rest)) = elems.split_first() else {
        return Some(0);
    };
    match first {
        Elem::Gap => (0..=3.min(words.len())).find_map(|skip| match_len(rest, &words[skip..]).map(|n| n + skip)),
        Elem::Any(_) | Elem::One => {
            let (word, tail) = words.split_first()?;
            if first.matches(word) {
                match_len(rest, tail).map(|n| n + 1)
            } else {
                None
            }
        }
    }
}
