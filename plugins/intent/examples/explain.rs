//! Shows what the rules found in texts, one per line on stdin:
//! `echo "not happy, where can I buy a new one?" | cargo run -q -p intent --example explain`

use std::io::BufRead;

fn main() {
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        let analysis = intent::scorer::analyze(&line);
        println!("{line}");
        for (intent, weight, words) in intent::scorer::explain(&line) {
            println!("    {:<16} {weight:.2}  {words}", intent.as_str());
        }
        let intents: Vec<String> = analysis
            .intents
            .iter()
            .map(|(i, c)| format!("{} {c:.2}", i.as_str()))
            .collect();
        println!(
            "  = [{}] language {:?} topics {:?}",
            intents.join(", "),
            analysis.language,
            analysis.topics
        );
    }
}
