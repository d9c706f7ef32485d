//! The rules one at a time: negation, questions, sarcasm, each intent's
//! phrases, language detection and topics; and that any input is handled.

use std::time::{Duration, Instant};

use intent::scorer::{Intent, analyze};
use proptest::prelude::*;

fn intents(text: &str) -> Vec<Intent> {
    analyze(text).intents.into_iter().map(|(i, _)| i).collect()
}

fn has(text: &str, intent: Intent) -> bool {
    intents(text).contains(&intent)
}

#[track_caller]
fn assert_has(text: &str, intent: Intent) {
    assert!(
        has(text, intent),
        "{text:?} should be {} (got {:?})",
        intent.as_str(),
        intents(text)
    );
}

#[track_caller]
fn assert_not(text: &str, intent: Intent) {
    assert!(
        !has(text, intent),
        "{text:?} should not be {} (got {:?})",
        intent.as_str(),
        intents(text)
    );
}

use Intent::{ChurnRisk, Complaint, Praise, PurchaseIntent, Question, SupportRequest};

#[test]
fn negation_turns_praise_into_complaint() {
    assert_has("I love this app", Praise);
    assert_has("I'm not happy with this app at all", Complaint);
    assert_not("I'm not happy with this app at all", Praise);
    assert_has("I don't like the new design", Complaint);
    assert_not("I don't like the new design", Praise);
    assert_has("Honestly it's not great", Complaint);
}

#[test]
fn negation_cancels_complaints() {
    assert_not("The update is not bad at all", Complaint);
    assert_not("Not terrible, I guess", Complaint);
    assert_not("Not complaining though.", Complaint);
    assert_has("The update is terrible", Complaint);
}

#[test]
fn negation_cancels_purchase_and_churn() {
    assert_not("I'm not buying that argument", PurchaseIntent);
    assert_not("I can't be bothered to buy a second pair of shorts", PurchaseIntent);
    assert_not("No way I'm switching to another app", ChurnRisk);
    assert_not("I would never cancel my subscription", ChurnRisk);
}

#[test]
fn wishes_are_not_praise() {
    assert_not("Would love a dark mode", Praise);
    assert_not("It would be great if the search worked", Praise);
    assert_not("I'd really like to learn more about this", Praise);
}

#[test]
fn questions_by_mark_and_by_form() {
    assert_has("Is this the new model?", Question);
    assert_has("How do I reset my password", Question);
    assert_has("does anyone know a good replacement battery", Question);
    assert_has("Can you tell me when it ships", Question);
    assert_has("Quick question: is the blue one still available", Question);
}

#[test]
fn what_is_not_a_question() {
    assert_not("Really?", Question);
    assert_not("Seriously? 🤦", Question);
    assert_not("What a mess.", Question);
    assert_not("What we need is a dark mode.", Question);
    assert_not("Which is annoying when you are in a hurry.", Question);
    assert_not("see https://example.org/page?id=3 for details", Question);
    assert_not("> How do I reset my password?\n\nYou can't, sorry.", Question);
}

#[test]
fn sarcasm_is_a_complaint() {
    let text = "Forcing everyone onto the redesign that everybody hates. Well done.";
    assert_has(text, Complaint);
    assert_not(text, Praise);
    assert_not("Thanks I hate it", Praise);
    assert_not("Oh great, another update that breaks everything", Praise);
    assert_not("that's wonderful /s", Praise);
    // A concession keeps both sides.
    let mixed = "Great job devs! But the search is still broken and useless.";
    assert_has(mixed, Praise);
    assert_has(mixed, Complaint);
}

#[test]
fn thanks() {
    assert_has("Thanks, the support team fixed it in minutes!", Praise);
    assert_not("No facebook-style feed for me, thanks.", Praise);
    assert_not("Does the new version fix the sync bug? Thanks", Praise);
}

#[test]
fn purchase_intent_phrases() {
    assert_has("Where can I buy the blue one?", PurchaseIntent);
    assert_has("Thinking of getting the Pro version next month", PurchaseIntent);
    assert_has("Is it worth buying at full price?", PurchaseIntent);
    assert_has("Shut up and take my money!", PurchaseIntent);
    assert_has("Just ordered two of them", PurchaseIntent);
    assert_has("How much is shipping to Canada?", PurchaseIntent);
    assert_not("This phone is great", PurchaseIntent);
    assert_not("Where can I get a refund?", PurchaseIntent);
}

#[test]
fn churn_phrases() {
    assert_has("I'm switching to Firefox after this", ChurnRisk);
    assert_has("Please cancel my subscription", ChurnRisk);
    assert_has("I'm going back to my old phone", ChurnRisk);
    assert_has("UNSUBSCRIBE", ChurnRisk);
    assert_has("I'm done with this app, deleting my account", ChurnRisk);
    assert_has("If they remove the old layout I'll quit using the site", ChurnRisk);
    assert_not("I love this app", ChurnRisk);
    // No subject at all speaks for the author; someone else's switch counts less.
    assert_has("Switching to Signal.", ChurnRisk);
    assert_not("My cousin was switching to a new desk.", ChurnRisk);
    assert_has("This greedy company will never see another dime from me!", ChurnRisk);
    assert_has("This sure is the last Moto phone for me!", ChurnRisk);
    assert_not("I doubt I'll be back.", PurchaseIntent);
}

#[test]
fn support_request_phrases() {
    assert_has("The app keeps crashing when I open settings", SupportRequest);
    assert_has("I can't log in to my account since yesterday", SupportRequest);
    assert_has("Where is my order? It hasn't arrived", SupportRequest);
    assert_has("Same issue here, Pixel 6 on Android 14", SupportRequest);
    assert_not("Works great now, thanks!", SupportRequest);
    assert_has("The charger stopped charging my phone after a week.", SupportRequest);
    assert_has("My screen cracked on day two.", SupportRequest);
    // Someone else's problem, or an answer to one, is not the author's.
    assert_not("Because the bot doesn't work here.", SupportRequest);
    assert_not("It's usually a bug.", SupportRequest);
}

#[test]
fn complaint_phrases() {
    assert_has("The app is garbage and support never answers", Complaint);
    assert_has("So sick of these ads", Complaint);
    assert_has("Half the time the pictures don't even load", Complaint);
    assert_not("I talk crap about my friends all the time", Complaint);
    assert_not("I hate to say it but you're right", Complaint);
}

#[test]
fn judgements_of_the_thing() {
    // Mild words count when said of the thing, or as "too ...".
    assert_has("The audio quality is poor.", Complaint);
    assert_has("Poor quality and service.", Complaint);
    assert_has("Buttons are too small.", Complaint);
    assert_has("The plug did not work very well.", Complaint);
    assert_has("The food wasn't good.", Complaint);
    assert_has("Over rated.", Complaint);
    assert_has("Can't upload ringtones from a third party.", Complaint);
    assert_not("It's too good to be true.", Complaint);
    assert_not("Can't wait to try it!", Complaint);
    assert_not("The weather is bad today but I'm fine", Praise);
    assert_has("Good audio quality.", Praise);
    assert_has("Very easy to use.", Praise);
    assert_has("Fits comfortably.", Praise);
    assert_has("Setup couldn't have been simpler.", Praise);
    assert_not("Setup couldn't have been simpler.", Complaint);
    assert_has("You won't be disappointed.", Praise);
}

#[test]
fn platform_criticism_and_sarcasm() {
    assert_has("Even more ways for them to sell your data!", Complaint);
    assert_has("This won't get abused at all.", Complaint);
    assert_has("Nice, can't wait for the echo chamber to get worse", Complaint);
    assert_not("Nice, can't wait for the echo chamber to get worse", Praise);
}

#[test]
fn intents_are_sorted_and_in_range() {
    let a = analyze("Where can I buy a new one? The old one is terrible and I'm switching to another brand.");
    assert!(a.intents.len() >= 3, "{:?}", a.intents);
    assert!(a.intents.windows(2).all(|w| w[0].1 >= w[1].1), "{:?}", a.intents);
    assert!(a.intents.iter().all(|&(_, c)| (0.0..=1.0).contains(&c)));
    assert_eq!(
        a,
        analyze("Where can I buy a new one? The old one is terrible and I'm switching to another brand.")
    );
}

#[test]
fn languages() {
    let cases: &[(&str, &[&str])] = &[
        (
            "en",
            &[
                "The app keeps crashing and support never answers my emails.",
                "I think this is the best phone I have ever owned.",
                "Does anyone know where I can buy a replacement charger?",
            ],
        ),
        (
            "es",
            &[
                "La aplicación no funciona desde ayer y nadie me responde.",
                "¿Dónde puedo comprar el modelo nuevo? Me gusta mucho el color.",
                "Es el mejor servicio que he tenido, muchas gracias por todo.",
            ],
        ),
        (
            "fr",
            &[
                "Je ne peux pas me connecter à mon compte depuis la mise à jour.",
                "C'est le meilleur produit que j'ai acheté cette année, merci !",
                "Est-ce que quelqu'un sait où on peut trouver les pièces ?",
            ],
        ),
        (
            "de",
            &[
                "Die App stürzt ständig ab und der Support antwortet nicht.",
                "Ich bin sehr zufrieden mit dem Produkt, vielen Dank für die schnelle Lieferung.",
                "Weiß jemand, wo man das neue Modell kaufen kann?",
            ],
        ),
        (
            "pt",
            &[
                "Não consigo entrar na minha conta desde ontem, alguém pode ajudar?",
                "Eu adorei o produto, a entrega foi muito rápida e sem problemas.",
                "Onde posso comprar a versão nova? Já procurei em todas as lojas.",
            ],
        ),
        (
            "it",
            &[
                "L'applicazione non funziona più e nessuno risponde alle mie email.",
                "Sono molto contento del servizio, grazie per la velocità della consegna.",
                "Qualcuno sa dove posso comprare il modello nuovo? Non lo trovo.",
            ],
        ),
        (
            "nl",
            &[
                "De app crasht steeds en de klantenservice reageert niet op mijn mails.",
                "Ik ben heel tevreden over het product, bedankt voor de snelle levering.",
                "Weet iemand waar ik het nieuwe model kan kopen? Ik kan het nergens vinden.",
            ],
        ),
    ];
    for (tag, sentences) in cases {
        for s in *sentences {
            assert_eq!(analyze(s).language, Some(*tag), "{s}");
        }
    }
}

#[test]
fn no_language_when_too_short_or_unknown() {
    for text in [
        "",
        "Thanks!",
        "lol ok",
        "👍👍",
        "12 34 56",
        "https://example.org/a/b/c",
        "Hyvää päivää kaikille ystäville",
    ] {
        assert_eq!(analyze(text).language, None, "{text:?}");
    }
}

#[test]
fn topics_skip_stopwords_links_and_handles() {
    let a = analyze(
        "@support@brand.social the battery of my phone dies after the update, see https://example.org/battery-bug \
         and ask u/someone. The battery is the problem. #BatteryGate",
    );
    assert!(a.topics.len() <= 5);
    assert!(a.topics.contains(&"battery".to_owned()), "{:?}", a.topics);
    assert!(a.topics.contains(&"batterygate".to_owned()), "{:?}", a.topics);
    for bad in [
        "the",
        "of",
        "my",
        "support",
        "brand",
        "example",
        "org",
        "someone",
        "https",
        "#batterygate",
    ] {
        assert!(!a.topics.iter().any(|t| t == bad), "{bad} in {:?}", a.topics);
    }
    assert!(a.topics.iter().all(|t| *t == t.to_lowercase() && !t.trim().is_empty()));
}

#[test]
fn topics_are_keyphrases_without_numbers_or_references() {
    let a = analyze("Order ORD12345 came two days late and the battery life of my X2 is poor. Battery life matters.");
    assert_eq!(
        a.topics.first().map(String::as_str),
        Some("battery life"),
        "{:?}",
        a.topics
    );
    assert!(
        a.topics.contains(&"x2".to_owned()),
        "a model name stays: {:?}",
        a.topics
    );
    for bad in ["two", "ord12345", "battery", "life"] {
        assert!(!a.topics.iter().any(|t| t == bad), "{bad} in {:?}", a.topics);
    }
}

#[test]
fn topics_merge_plurals_and_keep_communities() {
    let a = analyze("Third party apps are better. Apollo is the best app in r/apolloapp");
    assert!(a.topics.contains(&"app".to_owned()), "{:?}", a.topics);
    assert!(!a.topics.contains(&"apps".to_owned()), "{:?}", a.topics);
    assert!(a.topics.contains(&"apolloapp".to_owned()), "{:?}", a.topics);
    assert!(a.topics.contains(&"apollo".to_owned()), "{:?}", a.topics);
}

#[test]
fn empty_and_odd_inputs() {
    for text in [
        "",
        " ",
        "\n\n\n",
        "?",
        "!!!",
        "~~",
        "~~~",
        "@",
        "#",
        "r/",
        "u/",
        ">",
        "''",
        "’",
        "\u{0}",
        "🏳️‍🌈👨‍👩‍👧",
    ] {
        let a = analyze(text);
        assert!(a.intents.iter().all(|&(_, c)| (0.0..=1.0).contains(&c)), "{text:?}");
        assert!(a.topics.iter().all(|t| !t.trim().is_empty()), "{text:?}");
    }
}

/// Texts of about 1 MB built to stress each loop: one endless sentence,
/// many short ones, repeated cues, negators, gaps, handles, links, quotes.
#[test]
fn a_megabyte_of_anything_is_quick() {
    let shapes = [
        "terrible not great thanks i hate it ",
        "is it? ",
        "stop ~ ~ use ",
        "@a@b.c ",
        "https://x.org/?a=b ",
        "> quoted\n",
        "~~struck~~ ",
        "x ",
        "日本語のテキスト",
        "😀",
        "a'b'c'd'",
        "#tag r/sub u/user ",
        "word, ",
        "The delivery was late again and support never answered, but the new app is great! 😀 ",
        "great thanks love it awesome ",
    ];
    for shape in shapes {
        let text = shape.repeat((1 << 20) / shape.len());
        let start = Instant::now();
        let a = analyze(&text);
        let took = start.elapsed();
        eprintln!("{shape:?}: {took:?}");
        assert!(
            took < Duration::from_secs(10),
            "{shape:?} x{} took {took:?}",
            text.len() / shape.len()
        );
        assert!(a.topics.len() <= 5);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_text_gives_a_well_formed_analysis(text in "\\PC{0,400}") {
        let a = analyze(&text);
        prop_assert!(a.intents.iter().all(|&(_, c)| (0.0..=1.0).contains(&c) && c >= intent::scorer::THRESHOLD));
        prop_assert!(a.intents.windows(2).all(|w| w[0].1 >= w[1].1));
        prop_assert!(a.topics.len() <= 5);
        prop_assert!(a.topics.iter().all(|t| !t.trim().is_empty()));
        prop_assert_eq!(&a, &analyze(&text));
    }

    #[test]
    fn any_mix_of_markup_is_handled(parts in proptest::collection::vec(
        prop_oneof![
            Just("not "), Just("?"), Just("!"), Just("."), Just("~~"), Just("@"), Just("#"), Just("r/"), Just("u/"),
            Just("/"), Just("'"), Just("’"), Just("\n> "), Just("https://"), Just("www."), Just("]("), Just(" "),
            Just("thanks "), Just("how do i "), Just("switch to "), Just("é"), Just("日"), Just("😀"), Just(":("),
            Just("_"), Just("-"), Just("a"), Just("\u{301}"),
        ],
        0..200,
    )) {
        let text: String = parts.concat();
        let a = analyze(&text);
        prop_assert!(a.intents.iter().all(|&(_, c)| (0.0..=1.0).contains(&c)));
        prop_assert!(a.topics.iter().all(|t| !t.trim().is_empty() && t.chars().count() <= 40));
    }
}
