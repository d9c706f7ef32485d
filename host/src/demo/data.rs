//! The demo world's data: a fictional e-bike brand, its customers, what they
//! say and the brand's CRM. Written for the demo; no real people. Nothing here
//! is a network's shape: each demo network renders people and posts in its own.
//!
//! The world has a past: about 90 days of posts before the start, as the
//! brand's channels would have heard them (owners of each bike talking about
//! it, customers answering each other's questions, a lapsed customer losing
//! patience), a burst of complaints about the X2's battery after a firmware
//! update in the last day or two, the posts of the last hours, and the posts
//! that arrive while the demo runs. Every time is relative to the start, so
//! trends, churn and alerts read the same whenever the demo runs.

use std::sync::LazyLock;

use crate::store::DAY_MS;

/// Someone on the networks.
pub struct Person {
    pub handle: &'static str,
    pub name: &'static str,
    /// Empty when they wrote none.
    pub bio: &'static str,
    pub followers: u64,
    /// A website the network verified as theirs (it links back to the profile).
    pub website: Option<&'static str>,
}

/// What a customer says, where and when; every post mentions the brand.
pub struct Post {
    /// The network it is written on, as the demo network names its API
    /// (`DemoNetwork::api`); a reply is on the network of the post it answers.
    pub on: &'static str,
    /// Index into [`PEOPLE`].
    pub author: usize,
    pub text: &'static str,
    /// Index into [`posts`] of the post this one answers.
    pub reply_to: Option<usize>,
    pub when: When,
}

/// When a post of the world is written, relative to the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// `days` UTC days before the start's day, `minute` minutes after that
    /// day's midnight (so a post's day does not depend on the hour of the start).
    Day { days: i64, minute: i64 },
    /// The `n`th post of the burst of complaints, spread over [`burst_window`].
    Burst(usize),
    /// This many minutes before the start.
    MinutesAgo(i64),
    /// After the start: published one by one while the demo runs.
    Later,
}

const MINUTE_MS: i64 = 60_000;

impl When {
    /// Unix ms of a post written before the start `now` (Unix ms); `None` for a later one.
    pub fn at(self, now: i64) -> Option<i64> {
        let today = now.div_euclid(DAY_MS) * DAY_MS;
        match self {
            When::Day { days, minute } => Some(today - days * DAY_MS + minute * MINUTE_MS),
            When::Burst(n) => {
                let (from, until) = burst_window(now);
                let count = BURST.len().max(1) as i64;
                Some(from + (until - from) * (2 * n as i64 + 1) / (2 * count))
            }
            When::MinutesAgo(minutes) => Some(now - minutes * MINUTE_MS),
            When::Later => None,
        }
    }
}

/// The history ends this many days before the start's day ([`When::Day`]).
pub const LAST_HISTORY_DAY: i64 = 2;

/// Posts written before this time (Unix ms) are the history, long handled;
/// the burst and the last hours come after it.
pub fn handled_before(now: i64) -> i64 {
    now.div_euclid(DAY_MS) * DAY_MS - (LAST_HISTORY_DAY - 1) * DAY_MS
}

/// The posts of the last hours start this many minutes before the start.
const LAST_HOURS_MINUTES: i64 = (AT_START as i64) * 20;

/// Where the burst's posts fall: one UTC day (spike alerts count by day),
/// within the last day and a half, and before the posts of the last hours.
/// Its day is today's once the start is 10 hours into it, yesterday's before.
pub fn burst_window(now: i64) -> (i64, i64) {
    let day = (now - 10 * 60 * MINUTE_MS).div_euclid(DAY_MS) * DAY_MS;
    let until = (day + DAY_MS).min(now - LAST_HOURS_MINUTES * MINUTE_MS - 20 * MINUTE_MS);
    (day, until)
}

/// The networks of [`Post::on`].
pub const MASTODON: &str = "Mastodon";
pub const THREADS: &str = "Threads";

/// The brand's own account.
pub const BRAND: Person = Person {
    handle: "lumenbikes",
    name: "Lumen Bikes",
    bio: "E-bikes for everyday riding. Support: support@lumenbikes.example",
    followers: 15400,
    website: None,
};

// Indexes into PEOPLE.
const MAYA: usize = 0;
const TOM: usize = 1;
const LINA: usize = 2;
const RAJ: usize = 3;
const GHOST: usize = 4;
const ELLIE: usize = 5;
const MARCO: usize = 6;
const SAM: usize = 7;
const INES: usize = 8;
const BEN: usize = 9;
const HANNAH: usize = 10;
const JONAS: usize = 11;
const KENJI: usize = 12;
const MATEO: usize = 13;
const PRIYA: usize = 14;
const AISHA: usize = 15;
const OSKAR: usize = 16;
const CLARA: usize = 17;
const FREYA: usize = 18;
const DAN: usize = 19;
const FELIX: usize = 20;
const ZOE: usize = 21;
const NOOR: usize = 22;
const PETE: usize = 23;
const URBAN: usize = 24;

/// The customers (and a mechanic who helps them), prospects and passers-by.
pub const PEOPLE: &[Person] = &[
    Person {
        handle: "maya",
        name: "Maya Okafor",
        bio: "Commuter, 12 km each way. Coffee first.",
        followers: 1840,
        website: Some("https://mayarides.example"),
    },
    Person {
        handle: "tom_b",
        name: "Tom Becker",
        bio: "Dad of three, cargo bike convert",
        followers: 212,
        website: None,
    },
    Person {
        handle: "lina",
        name: "Lina Sørensen",
        bio: "Product designer. Copenhagen.",
        followers: 5320,
        website: Some("https://lina.design.example"),
    },
    Person {
        handle: "raj",
        name: "Raj Patel",
        bio: "Weekend trails, weekday spreadsheets",
        followers: 96,
        website: None,
    },
    Person {
        handle: "ghost_rider",
        name: "ghost rider",
        bio: "",
        followers: 12,
        website: None,
    },
    Person {
        handle: "ellie",
        name: "Ellie Chen",
        bio: "Nurse, night shifts, rides home at 7am",
        followers: 430,
        website: None,
    },
    Person {
        handle: "marco",
        name: "Marco Rossi",
        bio: "Bike mechanic. Ask me anything about hub motors.",
        followers: 2975,
        website: Some("https://marcofixes.example"),
    },
    Person {
        handle: "sam",
        name: "Sam Wright",
        bio: "",
        followers: 58,
        website: None,
    },
    Person {
        handle: "ines",
        name: "Inês Costa",
        bio: "Cycling advocate. Safer streets for everyone.",
        followers: 8120,
        website: None,
    },
    Person {
        handle: "ben",
        name: "Ben Adler",
        bio: "Early adopter, occasional complainer",
        followers: 640,
        website: None,
    },
    Person {
        handle: "hannah",
        name: "Hannah Weiss",
        bio: "Physio. Two kids, one e-bike, zero parking tickets.",
        followers: 388,
        website: None,
    },
    Person {
        handle: "jonas",
        name: "Jonas Keller",
        bio: "Fifteen years in a bike shop, forever tinkering. Happy to help.",
        followers: 1210,
        website: Some("https://jonaskeller.example"),
    },
    Person {
        handle: "kenji",
        name: "Kenji Mori",
        bio: "Backend developer. I log every ride.",
        followers: 760,
        website: None,
    },
    Person {
        handle: "mateo",
        name: "Mateo García",
        bio: "Ex courier, now commuting 30 km a day.",
        followers: 150,
        website: None,
    },
    Person {
        handle: "priya",
        name: "Priya Nair",
        bio: "Architect. Small flat, big plans.",
        followers: 2240,
        website: None,
    },
    Person {
        handle: "aisha",
        name: "Aisha Bello",
        bio: "Day-shift nurse. Hills both ways.",
        followers: 305,
        website: None,
    },
    Person {
        handle: "oskar",
        name: "Oskar Lindqvist",
        bio: "Two kids, one dog, no car.",
        followers: 97,
        website: None,
    },
    Person {
        handle: "clara",
        name: "Clara Dubois",
        bio: "Baker. Deliveries by cargo bike.",
        followers: 1530,
        website: Some("https://boulangerie-clara.example"),
    },
    Person {
        handle: "freya",
        name: "Freya Nilsson",
        bio: "",
        followers: 44,
        website: None,
    },
    Person {
        handle: "dan",
        name: "Dan Kowalski",
        bio: "Car-free curious.",
        followers: 71,
        website: None,
    },
    Person {
        handle: "felix",
        name: "Felix Braun",
        bio: "To work and back, rain or shine.",
        followers: 230,
        website: None,
    },
    Person {
        handle: "zoe",
        name: "Zoe Park",
        bio: "Weekend explorer, weekday commuter",
        followers: 512,
        website: None,
    },
    Person {
        handle: "noor.rides",
        name: "Noor Haddad",
        bio: "",
        followers: 0,
        website: None,
    },
    Person {
        handle: "pete_pedals",
        name: "Pete Lawson",
        bio: "",
        followers: 0,
        website: None,
    },
    Person {
        handle: "urbanmiles",
        name: "Urban Miles",
        bio: "",
        followers: 0,
        website: None,
    },
];

/// A post of the history: `(days before the start's day, author, text)`.
type Said = (i64, usize, &'static str);

/// The history on Mastodon, whose profiles tell who the CRM's customers are
/// ([`contacts_csv`]): owners of each bike talk about it most days.
#[rustfmt::skip]
const MASTODON_HISTORY: &[Said] = &[
    (89, MAYA, "Two weeks with my @lumenbikes X2 and the 12 km commute went from dreaded to the best part of my day."),
    (89, FREYA, "Got my @lumenbikes City serviced. Brakes feel new again, nice job by the shop."),
    (88, JONAS, "Year two with the @lumenbikes X2: new chain, new pads, same grin. Still the best bike I've owned."),
    (88, AISHA, "Hills both ways to the hospital and the @lumenbikes City makes them easy. I arrive fresh instead of sweaty. Love it."),
    (87, KENJI, "1,000 km on my @lumenbikes X2. Average assist 38%, about 8 Wh per km. Yes, I keep a spreadsheet."),
    (87, OSKAR, "Sold the second car. The @lumenbikes Cargo does the school run, the groceries and the dog."),
    (86, HANNAH, "Picked up my @lumenbikes X2 today! Sage green, obviously. The ride home was pure joy."),
    (85, MATEO, "Six months and 4,000 km on the @lumenbikes X2. Not a single flat. Solid bike."),
    (85, PRIYA, "Ordering a @lumenbikes City this week. Measured the lift twice, it fits."),
    (84, MARCO, "Serviced three @lumenbikes X2s this week. Clean cable routing and standard parts, easy to work on. Respect to the frame designers."),
    (83, LINA, "Test rode the @lumenbikes X2 in Nørrebro today. That hill start! Very tempted."),
    (83, CLARA, "Six a.m., forty baguettes in the box, the @lumenbikes Cargo humming along. Best delivery van I ever had."),
    (82, MAYA, "Rainy commute on the @lumenbikes X2 today. The fenders work great, my trousers stayed dry."),
    (81, KENJI, "Firmware 2.2 on the @lumenbikes X2 feels smoother off the line. Nice improvement."),
    (81, INES, "Thirty people on the Saturday ride, four of them on @lumenbikes. E-bikes are how cities change."),
    (80, HANNAH, "School run on the @lumenbikes X2: 8 minutes instead of 25 in traffic. My daughter calls it the rocket."),
    (79, MATEO, "The brake pads on my @lumenbikes X2 were done after 3,000 km. Fair with my mileage, swapped them myself."),
    (78, JONAS, "Tip for @lumenbikes X2 owners: check the rear axle nuts after the first 500 km. Quick job, good habit."),
    (78, OSKAR, "Our @lumenbikes Cargo has more fans at the kindergarten than I do."),
    (77, LINA, "Still thinking about that @lumenbikes X2. The sage green is calling me."),
    (77, FREYA, "@lumenbikes the display on my City flickers when it rains. Is that normal?"),
    (76, KENJI, "Range test on the @lumenbikes X2: 74 km in eco mode, mixed terrain, 78 kg rider. The spec sheet says 80, close enough."),
    (75, PRIYA, "My @lumenbikes City arrived! Assembly took ten minutes and it looks great. Off to the park."),
    (74, MARCO, "A customer brought in a @lumenbikes X2 with a rattling fender. Two washers later, silent. Small design flaw though."),
    (74, AISHA, "Someone on the bike path asked about my @lumenbikes City today. I might be a salesperson now."),
    (73, MAYA, "Commuting costs cut in half since the @lumenbikes X2. Best money I've spent in years."),
    (72, HANNAH, "@lumenbikes the kickstand on my X2 wobbles with loaded panniers. Is there a sturdier one?"),
    (72, CLARA, "@lumenbikes the Cargo box latch rattles on cobblestones. The bread doesn't mind, I do."),
    (70, MATEO, "Commuting 30 km a day on the @lumenbikes X2 and it just works. Rain, wind, whatever."),
    (69, KENJI, "Can the torque sensor on the @lumenbikes X2 be recalibrated? Mine feels a little lazy on the left pedal."),
    (68, JONAS, "Swapped the saddle on my @lumenbikes X2 for a wider one. The stock saddle is the only part I don't love."),
    (68, OSKAR, "The kids named our @lumenbikes Cargo the bus. The morning route now includes waving at actual buses."),
    (67, LINA, "Second test ride on the @lumenbikes X2. Okay, I'm convinced. Saving up."),
    (66, MAYA, "Battery still at 40% after four days of commuting on the @lumenbikes X2. I charge it on Sundays now."),
    (66, FREYA, "@lumenbikes the display on my City flickered again today. Still waiting for a reply to my email from last week."),
    (65, MARCO, "PSA for @lumenbikes X2 riders: the brake pads are a standard Shimano fit. No need to wait for brand parts."),
    (64, HANNAH, "Grocery run with two panniers on the @lumenbikes X2. 18 kg of shopping and I barely noticed."),
    (64, PRIYA, "Third week with the @lumenbikes City and I've ridden more than in the last five years together."),
    (63, MATEO, "@lumenbikes is there a heavy-duty rear wheel for the X2? I keep breaking spokes with my daily mileage."),
    (62, CLARA, "Bought a second @lumenbikes Cargo for the bakery today. Two routes, two bikes, zero vans."),
    (62, KENJI, "The 2.3 changelog for the @lumenbikes X2 promises smoother assist at low cadence. Installing tonight."),
    (61, JONAS, "Fitted a bell that is actually loud to my @lumenbikes X2. Pedestrians in headphones, I see you."),
    (60, AISHA, "Flat tyre on the @lumenbikes City this morning. Fixed it in the hospital car park and was late for handover. Not a great day."),
    (59, MAYA, "The lights on the @lumenbikes X2 are surprisingly good. Unlit park path at 6 a.m. and I could see everything."),
    (58, LINA, "Sketching a rack for my future @lumenbikes X2 between meetings. Occupational hazard."),
    (58, INES, "Led a beginners' ride today. Half of them asked about my @lumenbikes City. Told them to book a test ride."),
    (58, GHOST, "@lumenbikes your checkout crashed twice while I was ordering lights. Gave up."),
    (57, KENJI, "2.3 on the @lumenbikes X2 is great: smoother assist, and my consumption dropped to 7.4 Wh per km."),
    (56, HANNAH, "@lumenbikes the rear light on my X2 stopped working. The cable looks fine. Any ideas?"),
    (56, OSKAR, "The kickstand of the @lumenbikes Cargo is brilliant. Kids climb in and it stays rock steady."),
    (54, MATEO, "@lumenbikes still no answer about a stronger rear wheel for the X2. Two weeks now."),
    (53, MARCO, "Trued the wheel of a @lumenbikes X2 with 7,000 km on it today. Spoke tension all over the place. Heavy riders, get yours checked."),
    (52, JONAS, "Lovely evening ride along the river on the @lumenbikes X2. This is why I ride."),
    (52, FREYA, "@lumenbikes three weeks and no answer about the flickering display on my City. Disappointed."),
    (51, MAYA, "Overtook a cargo bike, a road cyclist and a bus this morning on my @lumenbikes X2. Okay, the bus was stopping."),
    (50, AISHA, "New panniers on the @lumenbikes City! Lunch, scrubs and a book all fit."),
    (50, HANNAH, "Rear light fixed: a loose connector under the rack. Thanks to the @lumenbikes support chat for the tip!"),
    (49, KENJI, "The @lumenbikes app shows the wrong odometer for my X2 after the update: 2,140 km on the bike, 1,870 in the app."),
    (48, CLARA, "The second @lumenbikes Cargo is in service. The new route is all uphill and the motor handles it easily."),
    (48, MATEO, "Got a stronger rear wheel for my @lumenbikes X2 from a local shop. Should have done that months ago."),
    (46, LINA, "It's happening. @lumenbikes X2 ordered, sage green, delivery in a week."),
    (45, JONAS, "Swapping the brake pads on the @lumenbikes X2 takes ten minutes. There's a video on my site if anyone wants it."),
    (44, PRIYA, "Rode the @lumenbikes City to a client meeting. Arrived calmer than after any taxi ride."),
    (44, MARCO, "@lumenbikes X2 owners: if your display shows E07, reseat the motor cable. Five minutes, no parts."),
    (44, FELIX, "Bought a used @lumenbikes X2 from a colleague. First e-bike, first week, big smile."),
    (43, MAYA, "Headwind all the way home. The @lumenbikes X2 just shrugged."),
    (42, OSKAR, "Week three without any car. The @lumenbikes Cargo is handling it and our budget is thrilled."),
    (42, FREYA, "@lumenbikes the display on my City died completely today. Pushed it home in the rain."),
    (41, HANNAH, "Took both kids to the lake on the @lumenbikes X2 with the trailer. 22 km of happy faces."),
    (40, LINA, "My @lumenbikes X2 is here! Assembly was easy and the colour is even better in person."),
    (40, KENJI, "Support answered about the odometer on my @lumenbikes X2: a known app bug, fixed in the next release. Fair."),
    (39, MATEO, "The new rear wheel is holding up great. The @lumenbikes X2 is back to being boring in the best way."),
    (37, JONAS, "Helped a neighbour set up her new @lumenbikes X2. Fifteen minutes and she was off."),
    (37, INES, "The new bike lane opened today. Rode it end to end on my @lumenbikes City. Happy day for the city!"),
    (36, MAYA, "Commute stats: 60 rides, 720 km, and I loved every one of them on the @lumenbikes X2."),
    (35, LINA, "First week with the @lumenbikes X2. I used it for everything, even the bakery 300 m away."),
    (35, AISHA, "Rode home after a long shift on the @lumenbikes City. Quiet streets, good lights, good day."),
    (34, KENJI, "Range check on the @lumenbikes X2 with 2.3: 81 km in eco. Better than the spec sheet!"),
    (33, MARCO, "A customer's @lumenbikes X2 came in with a bent derailleur hanger. Carry a spare, folks, they're cheap."),
    (33, CLARA, "@lumenbikes the latch fix your support sent for the Cargo works. No more rattling on the cobbles. Thanks!"),
    (32, HANNAH, "My daughter now rates every ride on the @lumenbikes X2 out of ten. Today was a nine. The hill was a ten."),
    (31, MATEO, "@lumenbikes the motor of my X2 grinds on every climb since last week. Booked a service."),
    (30, TOM, "Ordered a second child seat and the rain cover for our @lumenbikes Cargo, order LB-20931. Can't wait!"),
    (30, OSKAR, "The rain cover for the @lumenbikes Cargo arrived. The kids call it the tent."),
    (29, JONAS, "My @lumenbikes X2 passed 12,000 km today. Original motor, second chain, third set of tyres."),
    (28, PRIYA, "@lumenbikes any chance of a City in a darker colour? The white shows every speck of dirt."),
    (28, LINA, "Designed a small bracket to hold my phone on the @lumenbikes X2 stem. The files are free on my site."),
    (27, MAYA, "Overnight rain and the @lumenbikes X2 started first try at 6 a.m. More than I can say for myself."),
    (26, KENJI, "The @lumenbikes app update fixed the odometer of my X2. Nice when bugs actually get fixed."),
    (26, FREYA, "@lumenbikes still no replacement display for my City. Six weeks. Riding without assist now."),
    (25, MARCO, "Quiet week at the shop. Only one @lumenbikes X2 in for service, and that was a flat."),
    (24, HANNAH, "@lumenbikes love the X2, but the app logs me out every single morning. So annoying."),
    (24, AISHA, "Six months with the @lumenbikes City. Cheaper than the bus pass and much more fun."),
    (23, MATEO, "@lumenbikes the service found a worn motor bearing in my X2. Replaced under warranty, but it took nine days. I need this bike to get to work."),
    (22, JONAS, "Gave a talk at the library on e-bike maintenance. Brought my @lumenbikes X2 as the demo bike."),
    (22, CLARA, "Delivery record this morning: 62 stops on the @lumenbikes Cargo before 9. Proud of our little bakery fleet."),
    (21, LINA, "The @lumenbikes X2 gets compliments everywhere I park it. Design really matters."),
    (21, GHOST, "Saw a @lumenbikes X2 outside the station locked with a thin cable lock. Brave."),
    (20, MAYA, "New panniers for the @lumenbikes X2. Laptop, lunch and gym clothes all fit. Life's good."),
    (19, KENJI, "Weekly stats: 142 km on the @lumenbikes X2, all commuting. Consumption steady at 7.4 Wh per km."),
    (19, FELIX, "A month on the @lumenbikes X2 and I haven't taken the tram once. Legs and wallet both happier."),
    (18, OSKAR, "Flat rear tyre on the @lumenbikes Cargo with both kids aboard. Not the best morning."),
    (18, MARCO, "Reminder: torque the stem bolts of your @lumenbikes X2 to 5 Nm. Saw a loose one today."),
    (17, HANNAH, "The app logout bug is fixed. Thanks @lumenbikes, mornings are peaceful again."),
    (16, MATEO, "@lumenbikes the motor noise on my X2 is back, two weeks after the warranty repair. Seriously?"),
    (16, PRIYA, "Weekend ride to the coast on the @lumenbikes City, 45 km. Legs fine, battery fine, heart full."),
    (15, JONAS, "Serviced the rear hub of my @lumenbikes X2 this weekend. Lovely quality bearings inside."),
    (14, LINA, "Rode the @lumenbikes X2 to the studio all week. Now my colleagues want one."),
    (14, FREYA, "@lumenbikes eight weeks without a working display on my City. Terrible service."),
    (12, MAYA, "@lumenbikes my X2 rattles over cobbles since last week. The fender again?"),
    (12, KENJI, "Fitted a kid seat on the @lumenbikes X2 rack: rock solid. My son approves."),
    (11, MARCO, "New brake pads arrived at the shop. @lumenbikes X2 owners, come by, I have plenty."),
    (10, MATEO, "Third visit to the service point with my @lumenbikes X2 this month. I'm seriously thinking of switching to another brand."),
    (10, CLARA, "New tyres on both @lumenbikes Cargos. 6,000 km each and still going strong."),
    (9, HANNAH, "Two months of school runs on the @lumenbikes X2 and my daughter still cheers at the hill."),
    (9, AISHA, "@lumenbikes the chain on my City slips in the highest gear. Booked a service."),
    (8, JONAS, "Adjusted a friend's @lumenbikes X2 gears over coffee. Ten minutes and a barrel adjuster, that's all it takes."),
    (8, OSKAR, "New brake pads on the @lumenbikes Cargo bite nicely. The kids approve of the smooth stops."),
    (7, LINA, "Passed three @lumenbikes X2s on my way to work. It's becoming the bike of the neighbourhood."),
    (6, KENJI, "Firmware 2.4 for the @lumenbikes X2 is announced for next week. Hoping it keeps the 2.3 efficiency."),
    (6, FREYA, "@lumenbikes two months, one dead display, zero answers. Thinking of leaving for another brand."),
    (5, MARCO, "Busy week: five @lumenbikes X2s in for service. Chains, pads and one bent hanger."),
    (5, PRIYA, "The @lumenbikes City and I have done 1,000 km together. Celebrated with cake."),
    (4, MATEO, "@lumenbikes still no reply to my complaint about the motor of my X2. The worst support I've had from any brand."),
    (4, MAYA, "Fixed the fender rattle with a washer, thanks to Marco's tip. The @lumenbikes X2 is quiet again."),
    (3, HANNAH, "Lunch break ride on the @lumenbikes X2. Twenty minutes of sunshine between patients."),
    (3, OSKAR, "Three months car-free with the @lumenbikes Cargo. We don't miss the car at all."),
    (2, KENJI, "Firmware 2.4 is out for the @lumenbikes X2. Installed it this morning, let's see."),
    (2, JONAS, "Updated my @lumenbikes X2 to 2.4. The new display layout is nice."),
    (2, FREYA, "@lumenbikes my City has been dead for a week and still nothing from you. Never buying from you again."),
];

/// The history on Threads, which names authors by username only: people
/// shopping for an e-bike, and owners who are no customers of the CRM's.
#[rustfmt::skip]
const THREADS_HISTORY: &[Said] = &[
    (88, NOOR, "Looking at e-bikes for the school run. @lumenbikes Cargo or a trailer? Opinions welcome."),
    (84, SAM, "Day one with the @lumenbikes app. Unlocking the bike with my phone feels like the future."),
    (79, URBAN, "Spotted four @lumenbikes bikes at one rack downtown. They're everywhere this year."),
    (75, PETE, "Test rode a @lumenbikes X2 today. Smooth, quiet, a bit pricey."),
    (69, RAJ, "Comparing e-bikes in a spreadsheet like a true nerd. The @lumenbikes X2 is top three so far."),
    (65, SAM, "The @lumenbikes app asks me to log in again every other day. Small thing, but annoying."),
    (60, NOOR, "We went with the @lumenbikes Cargo! The kids love it already."),
    (57, URBAN, "Bike lanes plus e-bikes make a calmer city. @lumenbikes gets it."),
    (52, PETE, "Bought the @lumenbikes X2. My knees thank me already."),
    (46, SAM, "Rode my @lumenbikes City to the match and parked right at the gate while everyone queued for parking."),
    (40, RAJ, "Still on the fence about the @lumenbikes X2. The price is steep on a student budget."),
    (35, MARCO, "Pro tip for any e-bike: keep the chain clean and the tyres pumped. Half my @lumenbikes repairs are just that."),
    (33, NOOR, "The seat belts of the @lumenbikes Cargo are fiddly with cold fingers. Otherwise a dream."),
    (27, URBAN, "@lumenbikes delivery took three weeks. The bike is lovely, the wait was not."),
    (24, PETE, "Week four with the @lumenbikes X2 and I sold my car. Best decision this year."),
    (18, SAM, "The new ride history screen in the @lumenbikes app is really nice."),
    (15, MAYA, "Morning coffee, then 12 km on the @lumenbikes X2. Routine perfected."),
    (11, RAJ, "Booked a test ride on the @lumenbikes X2 for next week. Finally."),
    (8, NOOR, "The kids asked if the @lumenbikes Cargo can come on holiday with us. Checking the train rules now."),
    (4, URBAN, "The new bike counter downtown says 4,000 riders a day. @lumenbikes riders are a big part of that."),
    (3, PETE, "Two months with the @lumenbikes X2 and I'm still smiling on every ride."),
];

/// A customer's question answered by another, and the asker's thanks.
struct Exchange {
    on: &'static str,
    days: i64,
    question: (usize, &'static str),
    answer: (usize, &'static str),
    thanks: (usize, &'static str),
}

/// Customers helping customers: what advocacy counts.
const EXCHANGES: &[Exchange] = &[
    Exchange {
        on: MASTODON,
        days: 80,
        question: (
            DAN,
            "Does the @lumenbikes City fit in a small lift? Ours is 1.1 m deep.",
        ),
        answer: (
            INES,
            "@dan mine does, standing on its rear wheel. Our lift is about that size and it's no problem.",
        ),
        thanks: (DAN, "@ines thank you, that settles it!"),
    },
    Exchange {
        on: MASTODON,
        days: 71,
        question: (
            HANNAH,
            "Which child seat works on the @lumenbikes X2? The rack says 25 kg max.",
        ),
        answer: (
            JONAS,
            "@hannah any rack-mounted seat for kids up to 22 kg fits. I used a Thule one on my X2 for two years.",
        ),
        thanks: (HANNAH, "@jonas perfect, thanks so much! Ordering it tonight."),
    },
    Exchange {
        on: THREADS,
        days: 63,
        question: (
            NOOR,
            "Anyone riding a @lumenbikes Cargo up real hills with two kids? Is the motor strong enough?",
        ),
        answer: (
            MARCO,
            "@noor.rides yes, the Cargo has the same motor torque as the X2. Two kids up a 10% hill is fine in sport mode.",
        ),
        thanks: (NOOR, "@marco thank you! That was the last thing holding me back."),
    },
    Exchange {
        on: MASTODON,
        days: 55,
        question: (
            PRIYA,
            "Where do I find the right tyre pressure for the @lumenbikes City? The manual says nothing.",
        ),
        answer: (
            MARCO,
            "@priya it's printed on the tyre sidewall: 3.5 to 5 bar. I run 4 for city streets.",
        ),
        thanks: (
            PRIYA,
            "@marco thanks, that made a big difference. It rides so much better now!",
        ),
    },
    Exchange {
        on: MASTODON,
        days: 47,
        question: (
            KENJI,
            "Has anyone charged the @lumenbikes X2 with the 2 A charger instead of the 4 A one? Is it gentler on the cells?",
        ),
        answer: (
            JONAS,
            "@kenji yes, slower charging is gentler. I charge at 2 A overnight and after 14 months the capacity is still 96%.",
        ),
        thanks: (KENJI, "@jonas great data point, thank you!"),
    },
    Exchange {
        on: MASTODON,
        days: 38,
        question: (
            OSKAR,
            "Is the rain cover for the @lumenbikes Cargo worth it, or do the kids get wet anyway?",
        ),
        answer: (
            CLARA,
            "@oskar worth every cent. My baguettes stay dry, so will your kids.",
        ),
        thanks: (OSKAR, "@clara ha, brilliant, thank you!"),
    },
    Exchange {
        on: THREADS,
        days: 29,
        question: (
            PETE,
            "Is there a way to turn off the beeping of the @lumenbikes X2 display?",
        ),
        answer: (
            LINA,
            "@pete_pedals hold both arrow buttons for five seconds, then set the sound to off.",
        ),
        thanks: (PETE, "@lina legend, thank you!"),
    },
    Exchange {
        on: MASTODON,
        days: 20,
        question: (
            AISHA,
            "How do you all clean the chain of the @lumenbikes City? Mine is black and gritty.",
        ),
        answer: (
            MARCO,
            "@aisha rag, degreaser, rag, then a few drops of dry lube. Every 300 km or so.",
        ),
        thanks: (AISHA, "@marco thanks Marco, it's quiet again! Great tip."),
    },
    Exchange {
        on: MASTODON,
        days: 13,
        question: (
            ZOE,
            "Can I take the @lumenbikes X2 on the train? Does it fit the bike racks?",
        ),
        answer: (
            INES,
            "@zoe it fits the regional trains' racks, I take my City every Friday. Book a bike spot ahead.",
        ),
        thanks: (ZOE, "@ines thank you, super helpful!"),
    },
    Exchange {
        on: THREADS,
        days: 6,
        question: (
            URBAN,
            "Does anyone know if @lumenbikes sells a front basket for the City?",
        ),
        answer: (
            MAYA,
            "@urbanmiles yes, the wicker one on the accessories page. It clips onto the head tube mount.",
        ),
        thanks: (URBAN, "@maya love it, thanks!"),
    },
];

/// The topic of the burst: spike alerts name it.
pub const SPIKE_TOPIC: &str = "battery";

/// The brand's taxonomy: `(id, kind, name, synonyms)`. The bundled sentiment
/// analyzer finds these in posts, with what each post says of them.
pub const TAXONOMY: &[(&str, &str, &str, &[&str])] = &[
    ("x2", "product", "X2", &["x-2"]),
    ("cargo", "product", "Cargo", &[]),
    ("battery", "aspect", "Battery", &["range", "charge", "charging"]),
    ("frame", "feature", "Frame", &[]),
    ("brakes", "feature", "Brakes", &["brake", "brake pads"]),
    ("fenders", "feature", "Fenders", &["fender"]),
    ("app", "feature", "App", &["firmware"]),
];
/// The network the burst is written on.
pub const BURST_ON: &str = MASTODON;

/// Complaints about the X2's battery after firmware 2.4, in the last day or
/// two: against a calm history, a spike.
#[rustfmt::skip]
const BURST: &[(usize, &str)] = &[
    (KENJI, "@lumenbikes since the 2.4 update the battery on my X2 drains twice as fast. 81 km of range last week, 38 today on the same route. Not happy."),
    (HANNAH, "@lumenbikes the battery on my X2 died halfway through the school run. Pushed two kids home for the last 3 km. Not okay."),
    (FELIX, "@lumenbikes did 2.4 break the battery? My X2 went from 100% to 20% on a 12 km commute. This is bad."),
    (MATEO, "And now the battery. Full charge, 15 km, empty. @lumenbikes this X2 is a disaster."),
    (LINA, "@lumenbikes the battery of my X2 is empty after one ride since the update. Is a fix coming?"),
    (ZOE, "@lumenbikes update 2.4 ruined the battery on my X2. Barely made it home. Really disappointed."),
    (BEN, "Brand new X2 and the battery won't last a day since the update. @lumenbikes what happened?"),
    (MARCO, "Four customers in the shop today with the same problem: the battery on their @lumenbikes X2 empty by lunch, all on firmware 2.4. Rolling them back to 2.3."),
    (KENJI, "Logged it: with 2.4 the battery on the @lumenbikes X2 loses 9% an hour even when parked. The motor controller never sleeps."),
    (DAN, "Was about to order an X2, now everyone is complaining about the battery. @lumenbikes what is going on?"),
    (JONAS, "Can confirm: the battery on my @lumenbikes X2 drains fast with 2.4 too. Rolling back to 2.3 in the app helps for now, but this is poor."),
    (MATEO, "@lumenbikes the battery is dead again this morning. Late for work twice this week. I'm done with this bike."),
];

/// What the brand drafts for the burst's authors at start, waiting for approval:
/// a broadcast (it may only use `{{channel.name}}`) and a reply to each complaint.
pub const APOLOGY: &str = "We're sorry: firmware 2.4 drains the X2 battery far faster than it should. \
     A fix, 2.4.1, is in testing. Until it ships, roll back to 2.3 in the app (Settings > Firmware) \
     and your range comes back. Questions: support@lumenbikes.example";
pub const APOLOGY_REPLY: &str = "Sorry about this, {{author.name|there}}. Firmware 2.4 drains the X2 battery: \
     roll back to 2.3 in the app (Settings > Firmware) until 2.4.1 ships. If your range doesn't come back, \
     reply here and we'll sort it out.";

/// The posts of the last hours ([`AT_START`], 20 minutes apart) and those
/// that arrive while the demo runs: `(network, author, text, index of the
/// post answered among these)`.
#[rustfmt::skip]
const RECENT: &[(&str, usize, &str, Option<usize>)] = &[
    (MASTODON, MAYA, "Three months with my @lumenbikes X2 and I still grin every morning. Best purchase of the year!", None),
    (MASTODON, TOM, "@lumenbikes my order #LB-20931 was due two weeks ago. No tracking, no answer to my emails. What is going on?", None),
    (MASTODON, LINA, "The new @lumenbikes colours are gorgeous. That sage green 😍", None),
    (THREADS, RAJ, "Does the @lumenbikes X2 fit someone who is 195 cm? Thinking of buying one before spring.", None),
    (THREADS, MARCO, "@raj yes, I'm 193 and ride the L frame; raise the seatpost to the max line and you're fine.", Some(3)),
    (MASTODON, GHOST, "@lumenbikes battery died after 8 km today. Totally unacceptable for a bike this expensive.", None),
    (MASTODON, ELLIE, "Rode home after a night shift on my @lumenbikes and honestly it made my week. Thank you!", None),
    (THREADS, SAM, "@lumenbikes is the app down? It keeps crashing when I try to unlock the bike.", None),
    (MASTODON, BEN, "Support chat at @lumenbikes kept me waiting 45 minutes and then closed. I'm seriously thinking of switching to another brand.", None),
    (MASTODON, INES, "Great to see @lumenbikes sponsoring the car-free Sunday. More of this please!", None),
    (MASTODON, TOM, "@lumenbikes still nothing on order #LB-20931. I want to cancel my order and get a refund.", None),
    (MASTODON, MARCO, "@ghost_rider that's the 2.4 firmware: roll back to 2.3 in the app and the range comes back.", Some(5)),
    (THREADS, LINA, "Is there a rack for the @lumenbikes X2 that fits two panniers? Can't find it on the site.", None),
    (THREADS, MAYA, "@lina the rear rack from the accessories page takes two, I use it daily.", Some(12)),
    (THREADS, RAJ, "Ordered! @lumenbikes X2 in sage green. Can't wait.", None),
    (MASTODON, BEN, "Brakes squeal after a week. Not impressed, @lumenbikes.", None),
    (MASTODON, ELLIE, "Not sure the @lumenbikes lock is worth the price, but the bike itself is lovely.", None),
    (THREADS, SAM, "@lumenbikes the app works again, thanks for the quick fix!", None),
    (THREADS, GHOST, "Cancel my subscription to the @lumenbikes care plan. Never used it once.", None),
    (MASTODON, INES, "@lumenbikes any plans for a kids' seat that fits the X2? Asking for our family cycling group.", None),
];

/// Of [`RECENT`], those written in the last hours; the others arrive later.
pub const AT_START: usize = 14;

/// Every post of the world in the order it is written, whenever the demo
/// starts: the history, the burst, the last hours, then those arriving.
pub fn posts() -> &'static [Post] {
    static WORLD: LazyLock<Vec<Post>> = LazyLock::new(world);
    &WORLD
}

fn world() -> Vec<Post> {
    // The history, each post with the index among these of the one it answers.
    let mut drafts: Vec<(Post, Option<usize>)> = Vec::new();
    for (on, said) in [(MASTODON, MASTODON_HISTORY), (THREADS, THREADS_HISTORY)] {
        for (i, &(days, author, text)) in said.iter().enumerate() {
            // Between 07:00 and 20:59, varied.
            let minute = 7 * 60 + (i as i64 * 211) % (14 * 60);
            let when = When::Day { days, minute };
            drafts.push((post(on, author, text, when), None));
        }
    }
    for (i, e) in EXCHANGES.iter().enumerate() {
        // Asked between 08:00 and 17:59, answered within the hour, thanked after.
        let minute = 8 * 60 + (i as i64 * 173) % (10 * 60);
        let question = drafts.len();
        let (who, text) = e.question;
        drafts.push((post(e.on, who, text, When::Day { days: e.days, minute }), None));
        let (who, text) = e.answer;
        let answer = drafts.len();
        let when = When::Day {
            days: e.days,
            minute: minute + 50,
        };
        drafts.push((post(e.on, who, text, when), Some(question)));
        let (who, text) = e.thanks;
        let when = When::Day {
            days: e.days,
            minute: minute + 110,
        };
        drafts.push((post(e.on, who, text, when), Some(answer)));
    }
    // Oldest first; a day's posts by minute, then as listed.
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by_key(|&i| match drafts[i].0.when {
        When::Day { days, minute } => (-days, minute, i),
        _ => (0, 0, i),
    });
    let mut position = vec![0; drafts.len()];
    for (at, &i) in order.iter().enumerate() {
        position[i] = at;
    }
    let mut slots: Vec<Option<(Post, Option<usize>)>> = drafts.into_iter().map(Some).collect();
    let mut world: Vec<Post> = Vec::new();
    for &i in &order {
        if let Some((mut post, parent)) = slots[i].take() {
            post.reply_to = parent.map(|p| position[p]);
            world.push(post);
        }
    }
    for (n, &(author, text)) in BURST.iter().enumerate() {
        world.push(post(BURST_ON, author, text, When::Burst(n)));
    }
    let recent = world.len();
    for (k, &(on, author, text, reply_to)) in RECENT.iter().enumerate() {
        let when = if k < AT_START {
            When::MinutesAgo((AT_START - k) as i64 * 20)
        } else {
            When::Later
        };
        let mut post = post(on, author, text, when);
        post.reply_to = reply_to.map(|r| recent + r);
        world.push(post);
    }
    world
}

fn post(on: &'static str, author: usize, text: &'static str, when: When) -> Post {
    Post {
        on,
        author,
        text,
        reply_to: None,
        when,
    }
}

/// The brand's CRM: the people above who are customers, and others who never
/// post. Maya, Lina, Marco, Jonas and Clara show a verified link to their
/// website on their profile and the records of Inês and the other Mastodon
/// customers list their handle (links made at once); Tom, Ellie and Ben match
/// by name only (links proposed for review). Columns as `socialcrm import contacts`.
pub fn contacts_csv() -> String {
    let mut csv = String::from("id,name,email,website,company,mastodon\n");
    for (id, name, email, website, handle) in [
        (
            "C-1001",
            "Maya Okafor",
            "maya@example.com",
            "https://mayarides.example",
            "",
        ),
        ("C-1002", "Tom Becker", "tom.becker@example.com", "", ""),
        (
            "C-1003",
            "Lina Sorensen",
            "lina@example.com",
            "https://lina.design.example",
            "",
        ),
        ("C-1004", "Ellie Chen", "e.chen@example.com", "", ""),
        (
            "C-1005",
            "Marco Rossi",
            "marco@example.com",
            "https://marcofixes.example",
            "",
        ),
        ("C-1006", "Ines Costa", "ines@example.com", "", "ines@demo.social"),
        ("C-1007", "Ben Adler", "ben.adler@example.com", "", ""),
        (
            "C-1008",
            "Hannah Weiss",
            "hannah.weiss@example.com",
            "",
            "hannah@demo.social",
        ),
        (
            "C-1009",
            "Jonas Keller",
            "jonas@example.com",
            "https://jonaskeller.example",
            "",
        ),
        (
            "C-1010",
            "Kenji Mori",
            "kenji.mori@example.com",
            "",
            "kenji@demo.social",
        ),
        ("C-1011", "Mateo Garcia", "mateo.g@example.com", "", "mateo@demo.social"),
        ("C-1012", "Priya Nair", "priya@example.com", "", "priya@demo.social"),
        (
            "C-1013",
            "Aisha Bello",
            "aisha.bello@example.com",
            "",
            "aisha@demo.social",
        ),
        (
            "C-1014",
            "Oskar Lindqvist",
            "oskar@example.com",
            "",
            "oskar@demo.social",
        ),
        (
            "C-1015",
            "Clara Dubois",
            "clara@example.com",
            "https://boulangerie-clara.example",
            "",
        ),
        (
            "C-1016",
            "Freya Nilsson",
            "freya.n@example.com",
            "",
            "freya@demo.social",
        ),
    ] {
        csv.push_str(&format!("{id},{name},{email},{website},,{handle}\n"));
    }
    // Customers who never post: the value percentiles need a population.
    for i in 0..40 {
        csv.push_str(&format!(
            "C-2{i:03},Customer {i},customer{i}@example.com,,Acme {},\n",
            i % 7
        ));
    }
    csv
}

/// The bikes, as the CRM names them: per-product trends read these names.
pub const PRODUCTS: [(&str, f64); 3] = [("X2", 3299.0), ("City", 2199.0), ("Cargo", 4890.0)];

/// Orders of those contacts, dated relative to `now` (Unix ms) so recency
/// and churn read naturally whenever the demo runs: the posting customers'
/// bikes and accessories as their posts tell, and the others' over the year,
/// a good share of them in the last 90 days.
pub fn transactions_csv(now: i64) -> String {
    let date = |days_ago: i64| {
        time::OffsetDateTime::from_unix_timestamp((now - days_ago * DAY_MS) / 1000)
            .ok()
            .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default()
    };
    let mut csv = String::from("id,contact_id,kind,amount,currency,occurred_at,reference,product\n");
    let mut n = 0;
    let mut order = |csv: &mut String, contact: &str, amount: f64, days_ago: i64, product: &str| {
        n += 1;
        csv.push_str(&format!(
            "T-{n:05},{contact},purchase,{amount:.2},EUR,{},LB-{:06},{product}\n",
            date(days_ago),
            400_000 + n
        ));
    };
    for (contact, amount, days_ago, product) in [
        ("C-1001", 3299.0, 95, "X2"),
        ("C-1001", 89.0, 20, "Pannier"),
        ("C-1002", 4890.0, 210, "Cargo"),
        ("C-1003", 3299.0, 40, "X2"),
        ("C-1004", 2199.0, 330, "City"),
        ("C-1005", 129.0, 12, "Brake pads"),
        ("C-1005", 3299.0, 400, "X2"),
        ("C-1006", 2199.0, 110, "City"),
        ("C-1007", 3299.0, 14, "X2"),
        ("C-1007", 49.0, 7, "Bell"),
        ("C-1008", 3299.0, 86, "X2"),
        ("C-1008", 89.0, 66, "Pannier"),
        ("C-1009", 3299.0, 420, "X2"),
        ("C-1009", 89.0, 150, "Pannier"),
        ("C-1009", 129.0, 45, "Brake pads"),
        ("C-1010", 3299.0, 130, "X2"),
        ("C-1010", 149.0, 13, "Child seat"),
        ("C-1011", 3299.0, 240, "X2"),
        ("C-1011", 89.0, 238, "Lock"),
        ("C-1012", 2199.0, 75, "City"),
        ("C-1013", 2199.0, 170, "City"),
        ("C-1013", 89.0, 50, "Pannier"),
        ("C-1014", 4890.0, 88, "Cargo"),
        ("C-1014", 119.0, 30, "Rain cover"),
        ("C-1015", 4890.0, 300, "Cargo"),
        ("C-1015", 4890.0, 62, "Cargo"),
        ("C-1016", 2199.0, 280, "City"),
    ] {
        order(&mut csv, contact, amount, days_ago, product);
    }
    const ACCESSORIES: [(&str, f64); 4] = [
        ("Pannier", 89.0),
        ("Lights", 79.0),
        ("Lock", 89.0),
        ("Rain cover", 119.0),
    ];
    for i in 0..40_i64 {
        let contact = format!("C-2{i:03}");
        let (product, price) = PRODUCTS[(i % 3) as usize];
        // Half bought their bike in the last 90 days, the others in the year
        // before; of those, half came back for an accessory lately.
        let days_ago = if i % 2 == 0 { 2 + i * 37 % 88 } else { 3 + i * 29 % 360 };
        order(&mut csv, &contact, price, days_ago, product);
        if i % 4 == 1 {
            let (product, price) = ACCESSORIES[(i / 4 % 4) as usize];
            order(&mut csv, &contact, price, 1 + i * 7 % 88, product);
        }
    }
    csv
}
