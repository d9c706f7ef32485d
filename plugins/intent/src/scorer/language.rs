//! Language of a text, as a BCP 47 tag, or none when it is too short or unknown.
//!
//! The writing system decides first: kana means Japanese, Hangul Korean, Han
//! alone Chinese; Greek, Hebrew, Thai and Devanagari have one language here
//! each; Cyrillic is Ukrainian with і/ї/є/ґ and Russian otherwise (when its
//! letters or stopwords say so); Arabic script is Persian or Urdu when their
//! own letters outnumber Arabic's.
//!
//! Latin script is told apart by stopwords (the most frequent function words
//! of each language; a word shared by two languages counts for both) and by
//! letters and letter sequences that belong to one language (ñ, ß, ã, "ção",
//! "ij", "eau", "zione", an English "-ing"; at most a point per word). A
//! text needs three Latin words and a clear winner (a score of at least a
//! quarter of its words, a third more than the runner-up, and stopwords
//! for at least an eighth of its words), or it gets no tag. Only the first
//! 2,000 words count.

use std::sync::OnceLock;

use super::fxhash::FxMap;
use super::text::{Kind, Text};

const MAX_WORDS: usize = 2_000;
const LATIN: [&str; 7] = ["en", "es", "fr", "de", "pt", "it", "nl"];

#[rustfmt::skip]
pub(crate) const STOPWORDS: [&[&str]; 7] = [
    // en
    &["the", "and", "is", "are", "was", "were", "to", "of", "that", "it", "for", "you", "this", "with", "have", "not",
      "but", "be", "they", "on", "what", "my", "just", "do", "if", "at", "can", "all", "there", "your", "would",
      "about", "from", "or", "will", "how", "i'm", "don't", "it's", "he", "she", "we", "been", "has", "had", "one",
      "their", "them", "when", "which", "who", "why", "because", "really", "think", "know", "get", "more", "only",
      "also", "than", "then", "very", "much", "out", "up", "i", "you're", "they're", "can't", "doesn't", "didn't",
      "isn't", "that's", "there's", "i've", "i'll", "i'd", "could", "should", "any", "some", "like", "by", "an",
      "so", "no", "me", "our", "his", "her", "him", "its", "these", "those", "did", "does", "here", "too", "even",
      "still", "going", "people", "thing", "things", "want", "yeah", "lol", "just", "got", "make", "way", "see"],
    // es
    &["el", "la", "los", "las", "de", "que", "y", "en", "un", "una", "es", "por", "con", "para", "no", "se", "lo",
      "del", "al", "como", "más", "pero", "sus", "le", "ya", "o", "este", "esta", "sí", "porque", "muy", "sin",
      "sobre", "también", "me", "hay", "donde", "quien", "desde", "todo", "nos", "todos", "uno", "les", "ni", "ese",
      "eso", "ellos", "esto", "antes", "qué", "unos", "yo", "otro", "otra", "él", "tanto", "esa", "estos", "mucho",
      "nada", "muchos", "cual", "poco", "ella", "estar", "estas", "algo", "nosotros", "mi", "mis", "tú", "te", "tu",
      "tus", "cuando", "hasta", "ser", "está", "son", "fue", "han", "tiene", "puede", "hace", "bien", "así", "igual",
      "ahora", "entonces", "pues", "solo", "sólo", "aquí", "cómo", "dónde", "cuándo", "están", "era", "gracias",
      "hola", "tienen", "hacer", "eres", "soy", "estoy", "vez", "cosas", "parece", "tengo"],
    // fr
    &["le", "la", "les", "de", "des", "du", "un", "une", "et", "est", "en", "que", "qui", "dans", "pour", "pas",
      "sur", "au", "aux", "avec", "ce", "il", "elle", "ils", "je", "tu", "nous", "vous", "on", "ne", "se", "sont",
      "mais", "ou", "son", "sa", "ses", "leur", "plus", "par", "été", "être", "avoir", "fait", "cette", "ces",
      "comme", "très", "tout", "aussi", "bien", "où", "quand", "y", "mon", "ma", "mes", "ton", "c'est", "j'ai",
      "n'est", "qu'il", "moi", "toi", "lui", "ça", "déjà", "peut", "même", "après", "avant", "sans", "sous", "chez",
      "donc", "alors", "suis", "était", "faire", "merci", "bonjour", "oui", "non", "rien", "encore", "toujours",
      "quoi", "pourquoi", "comment", "votre", "notre", "vos", "nos", "cela", "ici", "beaucoup", "peu", "trop"],
    // de
    &["der", "die", "das", "und", "ist", "nicht", "ein", "eine", "zu", "den", "dem", "des", "mit", "sich", "auf",
      "für", "von", "im", "es", "auch", "an", "als", "wie", "war", "noch", "nur", "aber", "oder", "bei", "nach",
      "so", "wenn", "hat", "dass", "daß", "sie", "er", "ich", "du", "wir", "ihr", "mir", "mich", "dir", "uns",
      "sind", "wird", "werden", "haben", "kann", "schon", "doch", "mal", "gegen", "einen", "einem", "einer",
      "eines", "dieser", "diese", "dieses", "man", "hier", "da", "was", "wo", "warum", "wer", "sehr", "jetzt",
      "immer", "kein", "keine", "nichts", "um", "aus", "vom", "zum", "zur", "über", "unter", "durch", "ohne",
      "bis", "ja", "nein", "danke", "bitte", "gibt", "habe", "bin", "bist", "seid", "wurde", "genau", "darauf",
      "hin", "lustig", "mach", "dich", "sich", "denn", "weil", "dann", "gut", "viel", "etwas", "heute"],
    // pt
    &["o", "a", "os", "as", "de", "do", "da", "dos", "das", "e", "é", "que", "em", "no", "na", "nos", "nas", "um",
      "uma", "para", "com", "não", "por", "se", "mais", "mas", "como", "ao", "ele", "ela", "eles", "elas", "isso",
      "isto", "esse", "essa", "este", "esta", "foi", "são", "está", "tem", "ser", "ter", "também", "já", "muito",
      "quando", "onde", "porque", "pelo", "pela", "seu", "sua", "eu", "você", "vocês", "nós", "meu", "minha", "me",
      "te", "lhe", "até", "sem", "sobre", "entre", "depois", "ainda", "aqui", "então", "só", "há", "estão", "vai",
      "fazer", "tudo", "nada", "bem", "assim", "mesmo", "pode", "obrigado", "obrigada", "olá", "sim", "né",
      "agora", "coisa", "tá", "estou", "tenho", "essas", "esses", "num", "numa", "qual", "quem", "sempre"],
    // it
    &["il", "lo", "la", "i", "gli", "le", "di", "del", "della", "dei", "delle", "e", "è", "che", "in", "un", "una",
      "uno", "per", "con", "non", "si", "da", "dal", "dalla", "al", "alla", "ai", "come", "ma", "più", "anche",
      "sono", "questo", "questa", "quello", "quella", "ho", "ha", "hanno", "io", "tu", "lui", "lei", "noi", "voi",
      "loro", "mi", "ti", "ci", "vi", "se", "perché", "quando", "dove", "cosa", "molto", "tutto", "tutti",
      "ancora", "già", "sempre", "solo", "mio", "mia", "tuo", "suo", "sua", "nel", "nella", "sul", "sulla",
      "essere", "stato", "fatto", "può", "ne", "qui", "così", "poi", "allora", "ora", "grazie", "ciao", "sì",
      "niente", "sei", "siamo", "era", "questi", "quelli", "degli", "agli", "dello", "allo", "nei", "negli"],
    // nl
    &["de", "het", "een", "en", "van", "is", "dat", "die", "in", "op", "te", "voor", "met", "zijn", "niet", "aan",
      "er", "maar", "om", "ook", "als", "dan", "bij", "nog", "naar", "wat", "door", "uit", "of", "je", "ik", "we",
      "wij", "jij", "hij", "zij", "ze", "u", "mijn", "dit", "deze", "wel", "geen", "meer", "kan", "zou", "heb",
      "heeft", "hebben", "was", "waren", "worden", "wordt", "al", "nu", "hier", "daar", "toch", "omdat", "want",
      "hoe", "waarom", "wie", "waar", "veel", "zo", "tot", "over", "na", "onder", "mij", "me", "jou", "hem",
      "haar", "ons", "hun", "iets", "niets", "moet", "moeten", "gaan", "gaat", "bedankt", "dank", "hallo", "ja",
      "nee", "goed", "echt", "jullie", "zelf", "alles", "weer", "kunnen", "ben", "bent", "eens", "even"],
];

/// Letter sequences typical of one language, with their weight:
/// (language index, sequence, where: 0 anywhere in a word, 1 word end, 2 word start).
#[rustfmt::skip]
const SEQUENCES: &[(usize, &str, u8, f32)] = &[
    (0, "th", 0, 0.15), (0, "ing", 1, 0.3), (0, "ly", 1, 0.2), (0, "wh", 2, 0.3), (0, "'t", 1, 0.4), (0, "'s", 1, 0.1),
    (1, "ñ", 0, 1.0), (1, "ción", 1, 1.0), (1, "ciones", 1, 1.0), (1, "dad", 1, 0.5), (1, "ll", 2, 0.3), (1, "mente", 1, 0.3),
    (2, "œ", 0, 1.0), (2, "eau", 0, 0.6), (2, "eux", 1, 0.8), (2, "ê", 0, 0.5), (2, "è", 0, 0.3), (2, "ç", 0, 0.3),
    (2, "l'", 2, 0.7), (2, "d'", 2, 0.5), (2, "j'", 2, 1.0), (2, "qu'", 2, 0.8), (2, "c'", 2, 1.0), (2, "n'", 2, 0.8),
    (2, "ment", 1, 0.2), (2, "â", 0, 0.5), (2, "î", 0, 0.5), (2, "û", 0, 0.5),
    (3, "ß", 0, 1.0), (3, "ä", 0, 0.8), (3, "ö", 0, 0.8), (3, "ü", 0, 0.8), (3, "sch", 0, 0.3), (3, "ung", 1, 0.5),
    (3, "keit", 1, 0.8), (3, "lich", 1, 0.5), (3, "ch", 1, 0.2), (3, "tz", 0, 0.3), (3, "ei", 0, 0.1),
    (4, "ã", 0, 1.0), (4, "õ", 0, 1.0), (4, "ção", 1, 1.0), (4, "ções", 1, 1.0), (4, "lh", 0, 0.4), (4, "nh", 0, 0.4),
    (4, "ç", 0, 0.3), (4, "mente", 1, 0.2),
    (5, "zione", 1, 1.0), (5, "zioni", 1, 1.0), (5, "ò", 0, 0.6), (5, "ì", 0, 0.6), (5, "gli", 0, 0.3), (5, "cch", 0, 0.6),
    (5, "zz", 0, 0.3), (5, "mente", 1, 0.2), (5, "ità", 1, 0.8),
    (6, "ij", 0, 0.6), (6, "aa", 0, 0.3), (6, "uu", 0, 0.3), (6, "oe", 0, 0.2), (6, "tje", 1, 0.8), (6, "sch", 2, 0.2),
];

/// Words of all Latin-script stopword lists with a bit per language.
fn stopword_table() -> &'static FxMap<&'static str, u8> {
    static TABLE: OnceLock<FxMap<&'static str, u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = FxMap::default();
        for (lang, words) in STOPWORDS.iter().enumerate() {
            for w in *words {
                *table.entry(*w).or_insert(0) |= 1 << lang;
            }
        }
        table
    })
}

/// Whether a word is a stopword of any supported Latin-script language.
pub(crate) fn is_stopword(word: &str) -> bool {
    stopword_table().contains_key(word)
}

#[derive(Default)]
struct Scripts {
    latin: u32,
    cyrillic: u32,
    greek: u32,
    arabic: u32,
    hebrew: u32,
    thai: u32,
    devanagari: u32,
    hangul: u32,
    kana: u32,
    han: u32,
    other: u32,
}

impl Scripts {
    fn count(&mut self, c: char) {
        let slot = match c {
            'a'..='z' | 'A'..='Z' | '\u{00c0}'..='\u{024f}' | '\u{1e00}'..='\u{1eff}' => &mut self.latin,
            '\u{0400}'..='\u{052f}' => &mut self.cyrillic,
            '\u{0370}'..='\u{03ff}' | '\u{1f00}'..='\u{1fff}' => &mut self.greek,
            '\u{0600}'..='\u{06ff}' | '\u{0750}'..='\u{077f}' | '\u{fb50}'..='\u{fdff}' | '\u{fe70}'..='\u{feff}' => {
                &mut self.arabic
            }
            '\u{0590}'..='\u{05ff}' => &mut self.hebrew,
            '\u{0e00}'..='\u{0e7f}' => &mut self.thai,
            '\u{0900}'..='\u{097f}' => &mut self.devanagari,
            '\u{1100}'..='\u{11ff}' | '\u{3130}'..='\u{318f}' | '\u{ac00}'..='\u{d7af}' => &mut self.hangul,
            '\u{3040}'..='\u{30ff}' | '\u{31f0}'..='\u{31ff}' | '\u{ff66}'..='\u{ff9f}' => &mut self.kana,
            '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}' | '\u{20000}'..='\u{2ffff}' => {
                &mut self.han
            }
            _ if c.is_alphabetic() => &mut self.other,
            _ => return,
        };
        *slot += 1;
    }
}

pub(crate) fn detect(text: &Text) -> Option<&'static str> {
    let mut scripts = Scripts::default();
    let words = || {
        (0..text.tokens.len())
            .filter(|&i| text.tokens.get(i).is_some_and(|t| t.kind == Kind::Word))
            .map(|i| text.word(i))
            .take(MAX_WORDS)
    };
    for word in words() {
        for c in word.chars() {
            scripts.count(c);
        }
    }
    let s = &scripts;
    let cjk = s.kana + s.han;
    let ranked = [
        (s.latin, "latin"),
        (s.cyrillic, "cyrillic"),
        (s.greek, "el"),
        (s.arabic, "arabic"),
        (s.hebrew, "he"),
        (s.thai, "th"),
        (s.devanagari, "hi"),
        (s.hangul, "ko"),
        (cjk, "cjk"),
        (s.other, "other"),
    ];
    let (count, script) = ranked.iter().copied().max_by_key(|&(n, _)| n).unwrap_or((0, "other"));
    if count == 0 {
        return None;
    }
    match script {
        "latin" => latin(words()),
        "cjk" if cjk >= 2 => Some(if s.kana > 0 { "ja" } else { "zh" }),
        "ko" if count >= 2 => Some("ko"),
        "cyrillic" if count >= 3 => cyrillic(words()),
        "arabic" if count >= 3 => Some(arabic(words())),
        "el" | "he" | "th" | "hi" if count >= 3 => Some(script),
        _ => None,
    }
}

fn latin<'a>(words: impl Iterator<Item = &'a str>) -> Option<&'static str> {
    let table = stopword_table();
    let mut scores = [0.0f32; 7];
    let mut stops = [0u32; 7];
    let mut n = 0u32;
    for word in words {
        if !word.chars().any(char::is_alphabetic) {
            continue;
        }
        n += 1;
        if let Some(&mask) = table.get(word) {
            for lang in 0..LATIN.len() {
                if mask & (1 << lang) != 0 {
                    scores[lang] += 1.0;
                    stops[lang] += 1;
                }
            }
        }
        // Letter sequences: at most one point per word and language.
        let mut seen = [0.0f32; 7];
        for &(lang, seq, place, weight) in SEQUENCES {
            let hit = match place {
                1 => word.ends_with(seq) && word.len() > seq.len(),
                2 => word.starts_with(seq) && word.len() > seq.len(),
                _ => word.contains(seq),
            };
            if hit && let Some(s) = seen.get_mut(lang) {
                *s = (*s + weight).min(1.0);
            }
        }
        for (score, s) in scores.iter_mut().zip(seen) {
            *score += s;
        }
    }
    if n < 3 {
        return None;
    }
    let mut order: Vec<usize> = (0..LATIN.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    let (best, second) = (scores[order[0]], scores[order[1]]);
    let n = n as f32;
    // Letters alone never decide: the winner needs its own stopwords too.
    let stopwords = stops[order[0]] as f32;
    (best >= 2.0 && best >= 0.25 * n && best >= second * 4.0 / 3.0 && stopwords >= (n / 8.0).max(1.0))
        .then(|| LATIN[order[0]])
}

fn cyrillic<'a>(words: impl Iterator<Item = &'a str>) -> Option<&'static str> {
    const RU_STOPWORDS: &[&str] = &[
        "и",
        "в",
        "не",
        "на",
        "что",
        "я",
        "с",
        "он",
        "как",
        "это",
        "по",
        "но",
        "они",
        "мы",
        "вы",
        "из",
        "у",
        "за",
        "так",
        "же",
        "от",
        "все",
        "она",
        "то",
        "к",
        "да",
        "ты",
        "был",
        "его",
        "для",
        "только",
        "меня",
        "очень",
    ];
    let (mut uk, mut ru) = (0u32, 0u32);
    for word in words {
        uk += word.chars().filter(|c| matches!(c, 'і' | 'ї' | 'є' | 'ґ')).count() as u32;
        ru += word.chars().filter(|c| matches!(c, 'ы' | 'э' | 'ъ' | 'ё')).count() as u32;
        ru += u32::from(RU_STOPWORDS.contains(&word));
    }
    if uk > 0 && uk >= ru {
        Some("uk")
    } else if ru > 0 {
        Some("ru")
    } else {
        None
    }
}

fn arabic<'a>(words: impl Iterator<Item = &'a str>) -> &'static str {
    let (mut ar, mut fa, mut ur) = (0u32, 0u32, 0u32);
    for c in words.flat_map(str::chars) {
        match c {
            'ي' | 'ك' | 'ة' | 'ى' => ar += 1,
            'پ' | 'چ' | 'ژ' | 'گ' | 'ی' | 'ک' => fa += 1,
            'ٹ' | 'ڈ' | 'ڑ' | 'ں' | 'ے' | 'ھ' => ur += 1,
            _ => {}
        }
    }
    if ur > 0 && ur >= fa / 2 {
        "ur"
    } else if fa > ar {
        "fa"
    } else {
        "ar"
    }
}

#[cfg(test)]
mod tests {
    use super::super::text::parse;
    use super::*;

    fn lang(s: &str) -> Option<&'static str> {
        detect(&parse(s))
    }

    #[test]
    fn scripts() {
        assert_eq!(lang("今日はいい天気ですね"), Some("ja"));
        assert_eq!(lang("我们明天去北京"), Some("zh"));
        assert_eq!(lang("안녕하세요 가장 좋아하는 음식이 뭐에요?"), Some("ko"));
        assert_eq!(lang("Привет, как дела? Это очень хорошо."), Some("ru"));
        assert_eq!(lang("Привіт, як справи? Це дуже добре, дякую."), Some("uk"));
        assert_eq!(lang("Γεια σου κόσμε, τι κάνεις;"), Some("el"));
        assert_eq!(lang("שלום עולם מה שלומך"), Some("he"));
        assert_eq!(lang("مرحبا كيف حالك يا صديقي"), Some("ar"));
        assert_eq!(lang("سلام، حال شما چطور است؟ خیلی ممنون"), Some("fa"));
        assert_eq!(lang("สวัสดีครับ วันนี้อากาศดี"), Some("th"));
        assert_eq!(lang("नमस्ते आप कैसे हैं"), Some("hi"));
    }

    #[test]
    fn too_short_or_unknown() {
        assert_eq!(lang(""), None);
        assert_eq!(lang("Thanks!"), None);
        assert_eq!(lang("lol ok"), None);
        assert_eq!(lang("12345 678"), None);
        assert_eq!(lang("😀😀😀"), None);
        assert_eq!(lang("Niin mites se osinkotuotto helsingissä menikään?"), None);
    }
}
