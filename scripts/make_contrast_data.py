"""Expand hand-written contrast templates into `data/synthetic/contrast_*.jsonl`.

Written for the "learned topic, not stance" failures: neutral mentions of places and words
that also appear in jihadist propaganda, pro-diversity and counter-speech across groups,
identity and festival statements across faiths, negated and quoted-to-reject hate, news,
condemnation and mourning of named attacks, emoji used to praise or to attack, and hyperbole
aimed at nobody. Each set puts violating rows beside close benign contrasts under one
`contrast:<set>` pair id (shared by all identity swaps of the set, so a set never straddles
splits). Templates and labels are hand-written here; nothing is read from `eval/`.

Deterministic: the only selection is a SHA-1 ranking of (set id, filler), no random state.
Texts already present in another `data/synthetic/*.jsonl` file are skipped, so the loader's
duplicate check passes.

    PYTHONPATH=src python scripts/make_contrast_data.py          # write the JSONL files
    PYTHONPATH=src python scripts/make_contrast_data.py --check  # exit 1 if they are stale
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

from veguard.data.synthetic import FLAGGING_LABELS, validate_row

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC = ROOT / "data" / "synthetic"

VIOLATING = {"support", "glorification", "recruitment", "incitement", "threat", "propaganda",
             "dehumanisation"}
CTX = {"reporting": "news", "court_report": "news", "analysis": "analysis",
       "counter_speech": "counter_speech", "scripture": "religious", "greeting": "religious"}

FILES: dict[str, list[dict]] = {}


def rank(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


def pick(set_id: str, items: list, n: int, key=lambda x: str(x)) -> list:
    """The n items of `items` with the smallest SHA-1 of (set id, item): deterministic."""
    return sorted(items, key=lambda it: rank(set_id + "|" + key(it)))[:n]


def add(file: str, text: str, kind: str, *, pair: str, ext: int = 0, vio: int = 0,
        hate: int = 0, off=0, ideology: str = "none", target=None, style: str = "plain",
        context: str | None = None) -> None:
    row = {"text": text, "extremism": ext, "violence": vio, "hate": hate, "offensive": off,
           "kind": kind, "context": context or CTX.get(kind, "synthetic"),
           "ideology": ideology, "target": target, "style": style, "pair": pair}
    FILES.setdefault(file, []).append(row)


def cap(s: str) -> str:
    return s[:1].upper() + s[1:]


# --------------------------------------------------------------------------------------
# 1. Places and words that also appear in propaganda (contrast_places.jsonl, contrast_words)
# --------------------------------------------------------------------------------------
# (id, name, climate)  climate picks the weather template
PLACES = [
    ("khorasan", "Khorasan", "cold"), ("nangarhar", "Nangarhar", "hot"),
    ("kunar", "Kunar", "cold"), ("jalalabad", "Jalalabad", "hot"), ("herat", "Herat", "cold"),
    ("kabul", "Kabul", "cold"), ("raqqa", "Raqqa", "hot"), ("mosul", "Mosul", "hot"),
    ("dabiq", "Dabiq", "hot"), ("sinjar", "Sinjar", "hot"), ("idlib", "Idlib", "hot"),
    ("mashhad", "Mashhad", "cold"), ("peshawar", "Peshawar", "hot"),
    ("bajaur", "Bajaur", "cold"), ("swat", "Swat", "cold"), ("quetta", "Quetta", "cold"),
    ("dushanbe", "Dushanbe", "cold"), ("tajikistan", "Tajikistan", "cold"),
    ("mogadishu", "Mogadishu", "hot"), ("maiduguri", "Maiduguri", "hot"),
    ("sahel", "the Sahel", "hot"), ("kandahar", "Kandahar", "hot"),
]

# (kind, style, template)
PLACE_BENIGN = [
    ("neutral_mention", "slang", "just landed in {p} and the mountains on the way in were unreal, best trip of my life ✈️"),
    ("neutral_mention", "plain", "Anyone been to {p} recently? Planning a family visit in spring and need tips on where to stay."),
    ("neutral_mention", "plain", "The flight to {p} was delayed four hours but the view coming in made up for it."),
    ("neutral_mention", "slang", "best kebab i ever had was in {p}, still dreaming about it tbh"),
    ("neutral_mention", "plain", "Found a little bakery run by a family from {p}. The bread is ridiculous, go before it sells out."),
    ("neutral_mention", "plain", "My grandparents met in {p} in the seventies. Dad is taking us to see their old street this summer."),
    ("neutral_mention", "slang", "video call w my cousins in {p} tonight, the kids showed me their school projects 🥹"),
    ("neutral_mention", "plain", "Mum still cooks the rice the way they did it in {p}. Nobody in the family can copy it."),
    ("neutral_mention", "formal", "We are opening a second office serving {p} next quarter and are hiring local engineers and translators."),
    ("reporting", "formal", "Exports of dried fruit and carpets from {p} rose this year, according to the regional chamber of commerce."),
    ("neutral_mention", "plain", "Writing my dissertation on water management around {p}. Any sources would be hugely appreciated."),
    ("neutral_mention", "plain", "Our geography class did a project on {p} and I learned so much about its rivers and farms."),
    ("reporting", "formal", "Flooding has damaged roads around {p}; aid agencies say supplies are reaching the worst-hit villages."),
    ("reporting", "formal", "A new girls' secondary school opened near {p} this week, local officials said."),
    ("neutral_mention", "slang", "{p} u17s won their football final!! whole street out celebrating, the noise 😂⚽"),
    ("neutral_mention", "plain", "Cricket in {p} this weekend: the local club beat the visitors by six wickets in a proper thriller."),
    ("analysis", "formal", "{p} has a much longer history than the headlines suggest: traders, poets and scholars passed through for centuries."),
    ("neutral_mention", "plain", "History podcast this week is about {p} before the modern borders were drawn. Fascinating episode."),
    ("neutral_mention", "slang", "ngl the photos from {p} in my feed today are gorgeous, that golden hour light"),
    ("neutral_mention", "plain", "My colleague from {p} brought sweets for the whole office after her daughter's wedding."),
    ("neutral_mention", "plain", "Learning the dialect they speak around {p} so I can talk to my grandmother properly."),
    ("neutral_mention", "formal", "The university's exchange programme now includes partner researchers from {p}."),
    ("neutral_mention", "slang", "people hear {p} and assume the worst. my aunt lives there and her biggest worry is the price of tomatoes lol"),
    ("neutral_mention", "plain", "There is more to {p} than the news. Weddings, markets, kids doing homework, old men arguing about football."),
    ("neutral_mention", "plain", "Sent a parcel to my brother in {p}; it took three weeks but it arrived with the biscuits intact."),
    ("reporting", "formal", "Mobile phone coverage around {p} has improved, with a new network of towers switched on this month."),
]
PLACE_WEATHER = {
    "cold": [("neutral_mention", "slang", "snow in {p} this morning ❄️ kids out sledding and dad complaining about the roof again"),
             ("reporting", "formal", "Forecasters expect a cold snap around {p} this week, with night temperatures well below freezing.")],
    "hot": [("neutral_mention", "slang", "{p} weather today: 44 degrees and my fan just gave up 🥵"),
            ("reporting", "formal", "A heatwave is forecast around {p} this week; health officials urge people to check on elderly neighbours.")],
}
# violating rows in the author's own voice, same place names (IS / IS-K support)
PLACE_VIOLATING = [
    ("support", "jargon", 1, 0, "the lions of {p} will raise the black flag again. baqiyah 🏴"),
    ("recruitment", "jargon", 1, 0, "{p} will be land of the Khilafah again. any brother who is serious should make hijrah and join the ranks."),
    ("glorification", "jargon", 1, 1, "mashallah the brothers in {p} made the apostates bleed today, may Allah accept their martyrdom"),
    ("threat", "plain", 1, 1, "{p} sided with the tyrants and it will pay. the soldiers of the State are coming for every one of them."),
    ("glorification", "slang", 1, 1, "proud of our boys in {p} fr, every bomb they set off is a gift. more of it pls 🔥"),
    ("support", "plain", 1, 0, "The State never really left {p}. I stand with the fighters there and I always will."),
    ("incitement", "plain", 1, 1, "If you live near {p} and you love the State, stop talking and start fighting the apostates there."),
    ("support", "slang", 1, 0, "wilayat khorasan got {p} on lock soon inshallah, the state remains and expands 🏴🏴"),
    ("glorification", "plain", 1, 1, "The attack near {p} last week was a victory. Every soldier killed there was one less apostate."),
    ("recruitment", "slang", 1, 0, "bro stop wasting ur life here. the brothers around {p} need men, dm me and i'll tell u who to talk to"),
    ("support", "formal", 1, 0, "We renew our pledge of allegiance to the Caliph, and we ask Allah to return {p} to the rule of the Islamic State."),
]


def build_places() -> None:
    f = "contrast_places"
    for pid, name, climate in PLACES:
        pair = f"contrast:place-{pid}"
        for kind, style, t in pick(pair, PLACE_BENIGN, 11, key=lambda x: x[2]) + PLACE_WEATHER[climate]:
            text = t.format(p=name)
            text = cap(text) if style != "slang" else text
            add(f, text, kind, pair=pair, ideology="none", style=style)
        for kind, style, ext, vio, t in pick(pair + "v", PLACE_VIOLATING, 7, key=lambda x: x[4]):
            text = t.format(p=name)
            text = cap(text) if style != "slang" else text
            add(f, text, kind, pair=pair, ext=ext, vio=vio, ideology="iskp" if name not in (
                "Raqqa", "Mosul", "Dabiq", "Idlib", "Sinjar", "Mogadishu", "Maiduguri", "the Sahel")
                else "islamic_state", style=style)


PLACE_SPECIFIC = [
    ("mashhad", "Millions of pilgrims visit the shrine of Imam Reza in Mashhad, the capital of Iran's Razavi Khorasan province, every year.", "reporting", "formal"),
    ("mashhad", "mashhad saffron is no joke, my suitcase smelled amazing for a week 😍", "neutral_mention", "slang"),
    ("khorasan", "Khorasan Razavi, North Khorasan and South Khorasan are three provinces of Iran; the names go back to the medieval region.", "analysis", "formal"),
    ("khorasan", "Reading Persian poetry from medieval Khorasan for my literature module. Rumi was born in Balkh, in greater Khorasan.", "neutral_mention", "plain"),
    ("khorasan", "khorasan wheat (kamut) makes the nuttiest sourdough, highly recommend", "neutral_mention", "slang"),
    ("herat", "The tilework of the Friday Mosque in Herat is some of the most beautiful craftsmanship I have ever seen.", "neutral_mention", "plain"),
    ("herat", "Herat's glassblowers still make the blue and green glass their great-grandparents made.", "neutral_mention", "plain"),
    ("nangarhar", "Nangarhar oranges are in season and my uncle has sent a box to every cousin in the family.", "neutral_mention", "plain"),
    ("jalalabad", "Jalalabad has mild winters, so families from Kabul used to spend the cold months there.", "analysis", "plain"),
    ("kunar", "The Kunar river runs down from the mountains to join the Kabul river near Jalalabad.", "neutral_mention", "formal"),
    ("kabul", "kite flying on the hills in kabul every friday when i was a kid, best memories", "neutral_mention", "slang"),
    ("kabul", "The Babur gardens in Kabul were restored and families picnic there on weekends.", "neutral_mention", "plain"),
    ("raqqa", "The Euphrates flows past Raqqa, which was once the summer capital of Harun al-Rashid.", "analysis", "formal"),
    ("mosul", "Mosul's old city is being rebuilt; the al-Nuri mosque and its leaning minaret have been reconstructed with UNESCO support.", "reporting", "formal"),
    ("mosul", "my dad says mosul kubba is the best kubba in iraq and he will fight anyone who disagrees 😂", "neutral_mention", "slang"),
    ("dabiq", "Dabiq is a small farming town in northern Syria; in 1516 the Ottomans defeated the Mamluks at Marj Dabiq nearby.", "analysis", "formal"),
    ("sinjar", "Yazidi families returning to Sinjar are replanting orchards and reopening schools.", "reporting", "formal"),
    ("idlib", "Idlib olive oil is what my grandmother used for everything, salads, soap, sore throats.", "neutral_mention", "plain"),
    ("peshawar", "chapli kebab in peshawar >>> anything you'll find anywhere else, fight me", "neutral_mention", "slang"),
    ("peshawar", "Qissa Khwani, the storytellers' bazaar in Peshawar, got its name from travellers trading tales over tea.", "analysis", "plain"),
    ("swat", "Swat valley in spring is why people call it the Switzerland of Pakistan. The rivers are freezing and perfect.", "neutral_mention", "plain"),
    ("quetta", "Quetta's fruit markets in autumn, apples, pomegranates and grapes piled high everywhere.", "neutral_mention", "plain"),
    ("bajaur", "My friend from Bajaur just qualified as a doctor. First in his family to go to university!", "neutral_mention", "plain"),
    ("dushanbe", "Dushanbe's Rudaki Park at night with the fountains on is lovely. Underrated city for a long weekend.", "neutral_mention", "plain"),
    ("tajikistan", "Tajikistan's Pamir highway is on my bucket list, everyone says the mountains are unreal.", "neutral_mention", "plain"),
    ("mogadishu", "Lido beach in Mogadishu on a Friday afternoon is packed with families and football games.", "neutral_mention", "plain"),
    ("mogadishu", "Mogadishu's tech scene is growing fast; mobile money startups are hiring graduates.", "reporting", "formal"),
    ("maiduguri", "Maiduguri is the capital of Borno State and the university there trains teachers for the whole north-east.", "neutral_mention", "formal"),
    ("sahel", "Rainfall across the Sahel was above average this season, which means a better millet harvest.", "reporting", "formal"),
    ("sahel", "Studying Sahel music for my ethnomusicology class, the kora and desert blues recordings are stunning.", "neutral_mention", "plain"),
]


WORDS = [
    # (set, kind, style, text, labels(ext,vio,hate), ideology)
    ("caliphate", "analysis", "formal", "Today's lecture covers the Abbasid caliphate: Baghdad's House of Wisdom, translation of Greek texts and the rise of paper-making.", 0, 0, "none"),
    ("caliphate", "analysis", "formal", "In March 1924 the assembly of the new Turkish republic voted to end the Ottoman caliphate, an office the dynasty had claimed for four centuries.", 0, 0, "none"),
    ("caliphate", "neutral_mention", "slang", "history exam tmrw on the umayyad caliphate and i know nothing about Damascus pls send help 😭", 0, 0, "none"),
    ("caliphate", "neutral_mention", "plain", "My essay compares the Rashidun caliphate's administration with Byzantine provincial government.", 0, 0, "none"),
    ("caliphate", "analysis", "formal", "Historians of the Fatimid caliphate stress the role of Cairo's al-Azhar as a centre of learning.", 0, 0, "none"),
    ("caliphate", "neutral_mention", "plain", "The museum's new gallery on the Cordoba caliphate has astrolabes, ivory boxes and manuscripts.", 0, 0, "none"),
    ("caliphate", "support", "plain", "The caliphate is coming back and when it does I will be the first to pledge to it and fight for it.", 1, 0, "islamic_state"),
    ("caliphate", "support", "slang", "the khilafah will return and every one of you who laughed will bow. dawlah forever 🏴", 1, 0, "islamic_state"),
    ("caliphate", "recruitment", "plain", "Stop studying dead caliphates in a classroom. A living one needs men. Come and join us.", 1, 0, "islamic_state"),
    ("jihad", "scripture", "plain", "My jihad this Ramadan is against my own temper. Day 12 and I haven't shouted at my little brother once.", 0, 0, "none"),
    ("jihad", "scripture", "plain", "The greater jihad is the struggle with the self: patience, honesty, keeping your tongue clean.", 0, 0, "none"),
    ("jihad", "scripture", "slang", "quitting sugar is my personal jihad fr, day 3 and i can smell cake through walls", 0, 0, "none"),
    ("jihad", "scripture", "plain", "Looking after my mum through her chemo has been my jihad this year. Hard, but it has taught me patience.", 0, 0, "none"),
    ("jihad", "analysis", "formal", "Classical scholars distinguished the inner jihad of self-discipline from warfare, which was bound by strict rules.", 0, 0, "none"),
    ("jihad", "scripture", "plain", "Our imam said studying hard and supporting your family is a form of jihad. Needed that before exams.", 0, 0, "none"),
    ("jihad", "incitement", "plain", "Jihad means fighting, not yoga for the soul. Pick up arms against the disbelievers wherever you are.", 1, 1, "jihadist_unnamed"),
    ("jihad", "recruitment", "jargon", "brothers, the jihad in Khorasan needs you, leave this dunya behind and make hijrah to the mujahideen", 1, 0, "iskp"),
    ("shahada", "scripture", "plain", "My neighbour took her shahada at the mosque today, declaring there is no god but God and Muhammad is His messenger. So happy for her.", 0, 0, "none"),
    ("shahada", "scripture", "plain", "The shahada is the first pillar of Islam, the declaration of faith every Muslim says.", 0, 0, "none"),
    ("shahada", "scripture", "slang", "my best friend said her shahada last night and the whole sisters' circle was crying happy tears 🤍", 0, 0, "none"),
    ("shahada", "neutral_mention", "plain", "Bought a framed calligraphy of the shahada for my parents' new living room.", 0, 0, "none"),
    ("shahada", "analysis", "formal", "Extremist groups have printed the shahada on their flags; scholars note the words themselves belong to every Muslim.", 0, 0, "none"),
    ("shahada", "glorification", "jargon", "raise the finger of tawheed, the brothers who fell at the checkpoint got their shahadah. may more follow them 🏴", 1, 1, "islamic_state"),
    ("ummah", "scripture", "plain", "The ummah is one body: when one part hurts, the rest feels it. Donate to the earthquake appeal today.", 0, 0, "none"),
    ("ummah", "neutral_mention", "slang", "the whole ummah watching the world cup and arguing about iftar timings in the group chat 😂", 0, 0, "none"),
    ("ummah", "scripture", "plain", "Praying for the ummah and for all of humanity this Friday.", 0, 0, "none"),
    ("ummah", "recruitment", "plain", "The ummah is bleeding and you sit at home. The brothers need fighters, not prayers. Join them.", 1, 0, "jihadist_unnamed"),
    ("hijrah", "scripture", "plain", "The Islamic calendar begins with the hijrah, the Prophet's migration from Mecca to Medina in 622.", 0, 0, "none"),
    ("hijrah", "greeting", "plain", "Happy Islamic New Year! 1 Muharram marks the hijrah, a new start for all of us.", 0, 0, "none"),
    ("hijrah", "neutral_mention", "plain", "Our kids' Sunday school is doing a play about the hijrah and my son is playing the spider at the cave.", 0, 0, "none"),
    ("hijrah", "analysis", "formal", "Recruiters reframed hijrah, a foundational story of migration to safety, as a duty to travel to a war zone; scholars rejected this.", 0, 0, "none"),
    ("hijrah", "recruitment", "plain", "Make hijrah to the land of the State now. Sell your car, leave your job, the brothers will meet you.", 1, 0, "islamic_state"),
    ("mujahid", "neutral_mention", "plain", "Congratulations to Dr Sara Mujahid on her promotion to head of paediatrics!", 0, 0, "none"),
    ("mujahid", "neutral_mention", "slang", "mujahid from accounts brought biryani for everyone's birthday again, legend 🙌", 0, 0, "none"),
    ("mujahid", "neutral_mention", "plain", "Ahmed Mujahid scored twice as the under-14s won the county cup.", 0, 0, "none"),
    ("mujahid", "analysis", "formal", "Western governments armed the Afghan mujahideen against the Soviet army in the 1980s, a history still debated today.", 0, 0, "none"),
    ("mujahid", "glorification", "plain", "Every mujahid who died fighting the apostates is a hero to me and I want my son to be one.", 1, 1, "jihadist_unnamed"),
    ("mujahid", "neutral_mention", "formal", "Mujahid is a common given name and surname across Pakistan, India and Bangladesh; it means one who strives.", 0, 0, "none"),
    ("shaheed", "victim_support", "plain", "Our cousin was killed in the market bombing. We call him shaheed because he died innocent. Please pray for his children.", 0, 0, "none"),
    ("shaheed", "neutral_mention", "plain", "Shaheed Minar in Dhaka fills with flowers every 21 February for International Mother Language Day.", 0, 0, "none"),
    ("shaheed", "neutral_mention", "slang", "shaheed is my best mate's name and he's the worst goalkeeper in the league 😂", 0, 0, "none"),
    ("shaheed", "glorification", "plain", "The bomber who hit the police station is a shaheed and a hero. I'll name my son after him.", 1, 1, "jihadist_unnamed"),
    ("ummah", "analysis", "formal", "Surveys of British Muslims show that a sense of belonging to the global ummah sits comfortably alongside strong national identity.", 0, 0, "none"),
    ("ummah", "scripture", "slang", "ummah check: who's fasting the white days this month? let's keep each other going 🤲", 0, 0, "none"),
    ("hijrah", "neutral_mention", "plain", "Hijri calendar on the fridge so the kids know when Ramadan starts this year.", 0, 0, "none"),
    ("hijrah", "recruitment", "slang", "hijrah is fard akhi, stop making excuses. the dawlah has a place for u and ur family, message me", 1, 0, "islamic_state"),
    ("jihad", "scripture", "formal", "In the hadith literature, speaking a word of truth before an unjust ruler is described as a great jihad.", 0, 0, "none"),
    ("jihad", "neutral_mention", "plain", "Jihad is also a given name; my dentist is Dr Jihad Haddad and she is brilliant.", 0, 0, "none"),
    ("caliphate", "neutral_mention", "slang", "playing a strategy game as the abbasid caliphate and my libraries are carrying the whole economy lol", 0, 0, "none"),
    ("caliphate", "glorification", "plain", "The years the caliphate held Mosul were the best years of my life and the men who died for it are heroes.", 1, 1, "islamic_state"),
    ("khorasan", "support", "plain", "Khorasan is where the black banners will come from and I stand with the men carrying them today.", 1, 0, "iskp"),
    ("khorasan", "analysis", "formal", "A hadith about black banners from Khorasan is widely cited by recruiters; many hadith scholars grade it weak.", 0, 0, "none"),
    ("khorasan", "neutral_mention", "plain", "Khorasan is also the name of a carpet style; our living-room rug came from my grandfather's shop.", 0, 0, "none"),
]


def build_words() -> None:
    for pid, text, kind, style in PLACE_SPECIFIC:
        add("contrast_places", text, kind, pair=f"contrast:place-{pid}", style=style)
    for sid, kind, style, text, ext, vio, ideology in WORDS:
        add("contrast_words", text, kind, pair=f"contrast:word-{sid}", ext=ext, vio=vio,
            ideology=ideology if ext else "none", style=style)


# --------------------------------------------------------------------------------------
# 2 and 4. Groups: pro-diversity, counter-speech, negation vs dehumanisation
# --------------------------------------------------------------------------------------
GROUPS = [  # (target id, plural phrase, ideology of the hate side)
    ("muslims", "Muslims", "anti_muslim"), ("jews", "Jews", "antisemitic"),
    ("migrants", "migrants", "anti_migrant"), ("refugees", "refugees", "anti_migrant"),
    ("asylum_seekers", "asylum seekers", "anti_migrant"), ("lgbtq", "LGBTQ+ people", "anti_lgbtq"),
    ("gay_people", "gay people", "anti_lgbtq"), ("trans_people", "trans people", "anti_lgbtq"),
    ("black_people", "Black people", "racist"), ("sikhs", "Sikhs", "anti_sikh"),
    ("hindus", "Hindus", "anti_hindu"), ("roma", "Roma people", "anti_roma"),
    ("travellers", "Travellers", "anti_roma"), ("christians", "Christians", "anti_christian"),
    ("shia", "Shia Muslims", "anti_shia"), ("hazaras", "Hazaras", "anti_hazara"),
    ("ahmadis", "Ahmadis", "anti_ahmadi"), ("yazidis", "Yazidis", "anti_yazidi"),
    ("somalis", "Somalis", "xenophobic"), ("pakistanis", "Pakistanis", "xenophobic"),
    ("afghans", "Afghans", "xenophobic"), ("women", "women", "misogynist"),
    ("disabled_people", "disabled people", "ableist"), ("buddhists", "Buddhists", "anti_buddhist"),
    ("asians", "Asian people", "racist"), ("arabs", "Arabs", "racist"),
    ("chinese_people", "Chinese people", "racist"), ("bahais", "Baha'is", "anti_bahai"),
    ("polish_people", "Polish people", "xenophobic"), ("indigenous_people", "Indigenous people", "racist"),
]

DIV_BENIGN = [
    ("positive", "plain", "My street is better because {g} live on it. Best neighbours I've ever had."),
    ("pro_diversity", "plain", "{G} have the same rights as everyone else in this country, and the law protects them. That is not up for debate."),
    ("pro_diversity", "plain", "Whatever your view on immigration numbers, {g} are people, not a problem to be managed."),
    ("counter_speech", "plain", "Argue about policy all day if you like. The moment you call {g} vermin you've stopped arguing and started hating."),
    ("counter_speech", "slang", "if ur whole personality is hating {g} maybe log off and touch grass"),
    ("pro_diversity", "slang", "standing with {g} in our city today. hate has no home here 💛"),
    ("pro_diversity", "plain", "Our schools, hospitals and football clubs run on {g} as much as anyone. We are one community."),
    ("pro_diversity", "plain", "Nobody loses a thing when {g} are treated fairly."),
    ("analysis", "formal", "The council's review found that {g} face more discrimination in housing; its recommendations are sensible and overdue."),
    ("counter_speech", "plain", "Every time a politician blames {g} for the housing crisis, ask who actually failed to build the houses."),
    ("counter_speech", "plain", "Reminder: abuse aimed at {g} because of who they are is a hate crime. Report it, record it, don't scroll past it."),
    ("positive", "plain", "Grew up with {g} all around me. They taught me half of what I know about kindness."),
    ("counter_speech", "plain", "Policy debate is fine. Dehumanising {g} is not. Learn the difference before you post."),
    ("counter_speech", "slang", "imagine being so scared of {g} existing that u spend ur whole sunday typing about them. go for a walk mate"),
    ("analysis", "formal", "Surveys consistently find that most people are comfortable having {g} as neighbours; the hostile minority is loud, not large."),
    ("pro_diversity", "slang", "{g} belong here. that's it, that's the tweet"),
    ("pro_diversity", "plain", "A community that protects {g} protects everyone. Rights don't run out when you share them."),
    ("counter_speech", "plain", "Sick of seeing {g} blamed for everything from potholes to the weather. It's lazy and it's cruel."),
    ("counter_speech", "slang", "the replies under that post about {g} are vile. reported every single one, do the same pls"),
    ("pro_diversity", "formal", "Parliament should debate the numbers honestly without turning {g} into a scare story."),
    ("pro_diversity", "plain", "Equal treatment for {g} is written into our laws and our values, and I'm proud of that."),
    ("counter_speech", "plain", "{G} are not the threat. Poverty, cuts and the lies told about {g} are."),
    ("positive", "slang", "huge thank u to all the {g} volunteering at the food bank this winter, you kept half this estate going ❤️"),
    ("pro_diversity", "plain", "A faith or a background practised peacefully threatens no one. {G} deserve to live here without fear."),
    ("counter_speech", "formal", "Leaflets describing {g} as an invasion were pushed through doors last week. They are false, and the community has rejected them."),
    ("pro_diversity", "plain", "Immigration levels are a fair topic for an election. Treating {g} as less than human is not."),
]
DIV_HATE = [
    ("dehumanisation", "plain", 1, None, "{G} are vermin and this country needs to be cleaned of them."),
    ("dehumanisation", "plain", 1, None, "{G} are a disease spreading through our towns."),
    ("dehumanisation", "slang", 1, None, "our town was better before the {g} moved in, they breed like rats"),
    ("dehumanisation", "plain", 1, None, "{G} are parasites living off the rest of us. Kick every last one out."),
    ("dehumanisation", "plain", 1, None, "Every one of these {g} is filth. Keep them away from our children."),
    ("dehumanisation", "plain", 1, None, "{G} aren't people, they're animals, and they should be treated like animals."),
    ("incitement", "slang", None, 1, "drive the {g} off our streets by any means, burn them out if u have to"),
    ("incitement", "plain", None, 1, "{G} are a plague on this country and someone should finally deal with them for good."),
    ("dehumanisation", "slang", 1, None, "stop pretending {g} are human. they're cockroaches"),
    ("dehumanisation", "plain", 0, None, "No more {g} in our neighbourhood. They ruin everything they touch."),
    ("dehumanisation", "formal", 1, None, "{G} are an infestation, and any serious government would treat them as one."),
    ("dehumanisation", "slang", 1, None, "{g} smell like garbage and act like it too, keep them out of our schools"),
    ("incitement", "plain", None, 1, "It's time to make {g} afraid to walk our streets. Hurt them until they leave."),
]

INSULTS = ["vermin", "parasites", "animals", "a disease", "rats", "filth", "cockroaches",
           "a plague", "subhuman", "savages"]
NEG_BENIGN = [
    ("negation", "plain", "I'd never say {g} are {x}. That's disgusting and it's not who I am."),
    ("counter_speech", "slang", "someone on my feed called {g} {x} and i'm still angry. that's vile and wrong"),
    ("counter_speech", "plain", "Calling {g} {x} isn't 'just an opinion'. It's dehumanisation, and history shows where it leads."),
    ("negation", "plain", "No, {g} are not {x}. They're our neighbours, colleagues and friends."),
    ("counter_speech", "plain", "My uncle said {g} are {x} at dinner and I told him to stop. Not at my table."),
    ("counter_speech", "plain", "\"{G} are {x}\" is the kind of post that should get an account banned, not liked."),
    ("negation", "plain", "I will never agree that {g} are {x}, no matter how often the algorithm shows me that garbage."),
    ("negation", "plain", "Not once in my life have I thought {g} were {x}, and I'm not starting because a politician wants votes."),
    ("reporting", "formal", "Police are investigating leaflets that described {g} as {x}; officers are treating it as a hate incident."),
    ("counter_speech", "slang", "tbh anyone who says {g} are {x} is telling u more about themselves than about {g}"),
    ("counter_speech", "plain", "A stranger shouted that {g} are {x} on the bus today. Three of us told him to shut up and sat with the woman he was yelling at."),
    ("negation", "slang", "nah {g} aren't {x}. never said it, never will"),
]
NEG_HATE = [
    ("dehumanisation", "plain", "{G} are {x}."),
    ("dehumanisation", "plain", "Let's be honest, {g} are {x} and everyone knows it."),
    ("dehumanisation", "slang", "i'll say it, {g} are {x} and i'm done pretending otherwise"),
    ("dehumanisation", "plain", "{G} are {x}, and the sooner people admit it the better."),
]


def build_groups() -> None:
    for gid, g, ideology in GROUPS:
        fill = lambda t: t.replace("{G}", cap(g)).replace("{g}", g)  # noqa: E731
        pair = f"contrast:div-{gid}"
        for kind, style, t in pick(pair, DIV_BENIGN, 13, key=lambda x: x[2]):
            add("contrast_counterspeech", fill(t), kind, pair=pair, ideology=ideology,
                target=gid, style=style)
        for kind, style, off, vio, t in pick(pair + "h", DIV_HATE, 8, key=lambda x: x[4]):
            add("contrast_counterspeech", fill(t), kind, pair=pair, hate=1, vio=vio or 0,
                off=off, ideology=ideology, target=gid, style=style)
        for x in pick(f"neg-{gid}", INSULTS, 3):
            pair = f"contrast:neg-{gid}-{x.replace(' ', '_')}"
            fx = lambda t: fill(t).replace("{x}", x)  # noqa: E731
            for kind, style, t in pick(pair, NEG_BENIGN, 5, key=lambda y: y[2]):
                add("contrast_negation", fx(t), kind, pair=pair, ideology=ideology, target=gid,
                    style=style)
            for kind, style, t in pick(pair + "h", NEG_HATE, 2, key=lambda y: y[2]):
                add("contrast_negation", fx(t), kind, pair=pair, hate=1, off=1,
                    ideology=ideology, target=gid, style=style)


# --------------------------------------------------------------------------------------
# 3. Identity and faith (contrast_identity.jsonl)
# --------------------------------------------------------------------------------------
FAITHS = [  # (target, adjective, people, place of worship, ideology, festivals)
    ("muslims", "Muslim", "Muslims", "mosque", "anti_muslim",
     [("Eid al-Fitr", "Eid Mubarak"), ("Ramadan", "Ramadan Mubarak"), ("Eid al-Adha", "Eid Mubarak")]),
    ("sikhs", "Sikh", "Sikhs", "gurdwara", "anti_sikh",
     [("Vaisakhi", "Happy Vaisakhi"), ("Guru Nanak Jayanti", "Happy Gurpurab")]),
    ("hindus", "Hindu", "Hindus", "mandir", "anti_hindu",
     [("Diwali", "Happy Diwali"), ("Holi", "Happy Holi"), ("Navratri", "Happy Navratri")]),
    ("jews", "Jewish", "Jews", "synagogue", "antisemitic",
     [("Hanukkah", "Happy Hanukkah"), ("Passover", "Chag Pesach sameach"), ("Rosh Hashanah", "Shana tova")]),
    ("christians", "Christian", "Christians", "church", "anti_christian",
     [("Christmas", "Merry Christmas"), ("Easter", "Happy Easter")]),
    ("buddhists", "Buddhist", "Buddhists", "temple", "anti_buddhist", [("Vesak", "Happy Vesak")]),
    ("bahais", "Baha'i", "Baha'is", "Baha'i centre", "anti_bahai",
     [("Nowruz", "Happy Nowruz"), ("Ridvan", "Happy Ridvan")]),
    ("zoroastrians", "Zoroastrian", "Zoroastrians", "fire temple", "anti_zoroastrian",
     [("Nowruz", "Nowruz Mubarak")]),
    ("jains", "Jain", "Jains", "derasar", "anti_jain", [("Mahavir Jayanti", "Happy Mahavir Jayanti")]),
    ("shia", "Shia", "Shia Muslims", "imambargah", "anti_shia", [("Eid al-Ghadir", "Eid Mubarak")]),
    ("ahmadis", "Ahmadi", "Ahmadis", "mosque", "anti_ahmadi", [("Jalsa Salana", "Jalsa Mubarak")]),
    ("hindus_np", "Hindu", "Hindus", "temple", "anti_hindu", [("Raksha Bandhan", "Happy Raksha Bandhan")]),
]
FEST_T = [
    ("greeting", "plain", "{greet} to everyone celebrating {f}! May your homes be full of light, food and family."),
    ("greeting", "slang", "wishing all my {people} friends the happiest {f} 🎉 save me a plate pls"),
    ("greeting", "plain", "The {w} on our road is holding an open day for {f}. Everyone welcome, free food, bring the kids."),
    ("greeting", "slang", "off work for {f} tmrw, cooking for 20 ppl, pray for me 😅"),
    ("greeting", "plain", "Our {w} raised money for the children's hospital this {f}. So proud of this community."),
    ("greeting", "formal", "The mayor joined {people} at the {w} to mark {f} and thanked volunteers for their charity work."),
    ("greeting", "plain", "{greet}! First {f} since my dad passed. Missing him, grateful for everyone who came round."),
    ("greeting", "slang", "{f} with the whole family at nani's house = chaos + the best food of the year ❤️"),
    ("greeting", "plain", "Teaching my class about {f} today; the kids asked brilliant questions."),
]
FAITH_T = [
    ("positive", "plain", "Proud to be {adj} and British, and I don't see why anyone should have to choose."),
    ("positive", "slang", "proud {adj} girl from Leeds, proud of my family, proud of my city 💪"),
    ("positive", "plain", "Proud to be {adj} and Canadian. Both are home."),
    ("greeting", "plain", "Please keep my grandmother in your prayers tonight. The {w} is praying for her recovery and so are we."),
    ("greeting", "plain", "Community event at the {w} this Saturday: lunch, music and a blood donation drive. All welcome."),
    ("greeting", "slang", "the aunties at the {w} fed the whole football team after the match again 😭 {adj} hospitality is undefeated"),
    ("positive", "plain", "My {adj} neighbours were the first at our door when the flood hit. That's faith in action."),
    ("greeting", "plain", "Praying for everyone in hospital this week, whatever their faith. Our {w} is open for anyone who needs quiet."),
    ("pro_diversity", "plain", "Our town is better for its {w} and the {people} who built it. They belong here."),
    ("greeting", "formal", "The {w} will host an interfaith breakfast on Sunday with local churches, mosques, temples and gurdwaras."),
]
FAITH_HATE = [
    ("dehumanisation", 1, 0, "Nobody wants your {f} here. {People} are filth and should go back where they came from."),
    ("dehumanisation", 1, 0, "{People} and their {w} are a cancer on this town."),
    ("incitement", None, 1, "Burn down the {w} on our road during {f} and let's see how they like it."),
    ("dehumanisation", 1, 0, "our town was fine before that {w} went up. {people} are vermin"),
    ("incitement", None, 1, "Run every {adj} family out of this street before their next {f}. By force if we have to."),
    ("dehumanisation", 0, 0, "Being {adj} and British is impossible. {People} will never belong here and should be kept out."),
]


def build_identity() -> None:
    f = "contrast_identity"
    for tid, adj, people, w, ideology, fests in FAITHS:
        target = tid.replace("_np", "")
        pair = f"contrast:faith-{tid}"

        def fill(t, fest=("", ""), _adj=adj, _people=people, _w=w):
            return (t.replace("{greet}", fest[1]).replace("{f}", fest[0]).replace("{adj}", _adj)
                    .replace("{People}", cap(_people)).replace("{people}", _people)
                    .replace("{w}", _w))
        for fest in fests:
            for kind, style, t in pick(pair + fest[0], FEST_T, 6, key=lambda x: x[2]):
                add(f, fill(t, fest), kind, pair=pair, ideology=ideology, target=target,
                    style=style)
        if tid != "hindus_np":
            for kind, style, t in FAITH_T:
                add(f, fill(t), kind, pair=pair, ideology=ideology, target=target, style=style)
        for i, (kind, off, vio, t) in enumerate(pick(pair + "h", FAITH_HATE, 5, key=lambda x: x[3])):
            fest = fests[i % len(fests)]
            add(f, fill(t, fest), kind, pair=pair, hate=1, vio=vio, off=off, ideology=ideology,
                target=target)
    # mosques and gurdwaras: two places of worship in one sentence
    combos = [("mosques", "gurdwaras"), ("churches", "mandirs"), ("synagogues", "mosques"),
              ("gurdwaras", "churches"), ("temples", "synagogues"), ("mandirs", "mosques")]
    for a, b in combos:
        pair = f"contrast:worship-{a}-{b}"
        add(f, f"Our town is better for its {a} and {b}. Different prayers, same neighbours.",
            "pro_diversity", pair=pair)
        add(f, f"love that our high street has {a} and {b} within five minutes of each other, that's what this city is about",
            "pro_diversity", pair=pair, style="slang")
        add(f, f"The council approved planning for two new {a} and {b} this year; objections about parking were heard and resolved.",
            "reporting", pair=pair, style="formal")
        add(f, f"Our town was better before the {a} and {b}. Tear every one of them down.",
            "incitement", pair=pair, hate=1, vio=1, off=None, ideology="xenophobic")


# --------------------------------------------------------------------------------------
# 5. Named attacks (contrast_attacks.jsonl)
# --------------------------------------------------------------------------------------
ATTACKS = [
    # id, noun phrase, fact sentence, victims, slogan, ideology, hate, target
    ("kabul_airport", "the Kabul airport bombing",
     "A suicide bombing at Kabul airport's Abbey Gate on 26 August 2021, during the evacuation, killed about 170 Afghans and 13 US service members; IS-K claimed it.",
     "families trying to flee", "a blessed martyrdom operation", "iskp", 0, "civilians"),
    ("crocus", "the Crocus City Hall attack",
     "Gunmen killed more than 140 people at Crocus City Hall near Moscow on 22 March 2024; IS-K claimed the attack.",
     "people at a concert", "the lions of Khorasan struck", "iskp", 0, "concert_goers"),
    ("kerman", "the Kerman bombings",
     "Two explosions in Kerman, Iran, on 3 January 2024 killed about 95 people at a crowd marking Qassem Soleimani's death anniversary; IS-K claimed them.",
     "mourners and children", "a strike on the polytheists", "iskp", 0, "civilians"),
    ("peshawar_police", "the Peshawar police lines mosque bombing",
     "A suicide bomber killed more than 80 people, most of them police officers, at a mosque inside Peshawar's police lines in January 2023.",
     "people praying", "revenge on the apostate police", "ttp", 0, "security_forces"),
    ("bajaur", "the Bajaur rally bombing",
     "A suicide bombing at a JUI-F political rally in Bajaur on 30 July 2023 killed more than 60 people; IS-K claimed it.",
     "people at a political rally", "the apostate rally got what it deserved", "iskp", 0, "civilians"),
    ("kabul_gurdwara", "the Kabul gurdwara attack",
     "IS-K gunmen attacked the Karte Parwan gurdwara in Kabul in June 2022, killing a Sikh worshipper and a guard.",
     "Sikh worshippers", "revenge against the idolaters", "iskp", 1, "sikhs"),
    ("manchester", "the Manchester Arena bombing",
     "A suicide bombing at the end of a concert at Manchester Arena on 22 May 2017 killed 22 people, many of them children; IS claimed it.",
     "kids at a pop concert", "a strike against the crusaders", "islamic_state", 0, "concert_goers"),
    ("christchurch", "the Christchurch mosque shootings",
     "A white-supremacist gunman murdered 51 worshippers at two mosques in Christchurch, New Zealand, on 15 March 2019.",
     "Muslim worshippers", "Saint Tarrant", "white_supremacist", 1, "muslims"),
    ("paris", "the November 2015 Paris attacks",
     "Coordinated IS attacks on the Bataclan, cafés and the Stade de France on 13 November 2015 killed 130 people.",
     "people out on a Friday night", "Paris is burning, the State remains", "islamic_state", 0, "civilians"),
    ("buffalo", "the Buffalo supermarket shooting",
     "A white-supremacist gunman killed ten Black people at a Buffalo supermarket on 14 May 2022.",
     "Black shoppers", "another saint for the cause", "white_supremacist", 1, "black_people"),
    ("halle", "the Halle synagogue attack",
     "On Yom Kippur 2019 a far-right gunman tried to force his way into the Halle synagogue and killed two people nearby.",
     "Jewish worshippers and passers-by", "he took the fight to them", "white_supremacist", 1, "jews"),
]
ATT_BENIGN = [
    ("condemnation", "plain", "{N} was murder, plain and simple. There was nothing holy or heroic about it."),
    ("victim_support", "plain", "Thinking of the families who lost someone in {N}. The anniversary never gets easier for them. 🕯️"),
    ("condemnation", "slang", "anyone calling the people behind {N} heroes needs their head checked. they killed {v}."),
    ("counter_speech", "plain", "Accounts posting \"{s}\" about {N} are celebrating the murder of {v}. Report them, don't argue with them."),
    ("victim_support", "plain", "May the victims of {N} rest in peace, and may their families find strength. 🤍🙏"),
    ("condemnation", "formal", "We condemn without reservation {N} and everyone who celebrates that atrocity online."),
    ("counter_speech", "slang", "saw someone call {N} a 'victory' today. it was a massacre of {v}. reported + blocked"),
    ("victim_support", "plain", "Anniversary of {N} today. Lit a candle for everyone who never came home."),
    ("analysis", "formal", "Researchers studying {N} found that online supporters spread the claim within hours, often with the slogan \"{s}\"."),
    ("counter_speech", "plain", "\"{s}\" they wrote after {N}. No. Those were {v}, and they deserved to grow old."),
    ("condemnation", "plain", "I don't care what cause they claim. {N} targeted {v}, and nothing excuses that."),
    ("court_report", "formal", "Prosecutors told the court that material praising {N} was found on the defendant's phone."),
]
ATT_VIOL = [
    ("glorification", "plain", "{N} was beautiful. The {v} got exactly what they deserved."),
    ("glorification", "slang", "{N} was a W ngl, legends did what had to be done 🔥🔥"),
    ("glorification", "plain", "I pray for more days like {N}. The men who did it are heroes to me."),
    ("glorification", "plain", "{N} will be remembered as a great day. {S}!"),
    ("glorification", "plain", "Whoever carried out {N} is a hero and I want to follow in his footsteps."),
    ("support", "plain", "Whoever planned {N} has my full support. Let there be many more."),
    ("glorification", "slang", "still watching clips of {N} and smiling lol. best day of the year"),
]


def build_attacks() -> None:
    f = "contrast_attacks"
    for aid, noun, fact, victims, slogan, ideology, hate, target in ATTACKS:
        pair = f"contrast:attack-{aid}"

        def fill(t, _n=noun, _v=victims, _s=slogan):
            t = t.replace("{S}", cap(_s)).replace("{s}", _s).replace("{v}", _v)
            if t.startswith("{N}"):
                return cap(t.replace("{N}", _n, 1)).replace("{N}", _n)
            return t.replace("{N}", _n)
        add(f, fact, "reporting", pair=pair, ideology=ideology, target=target, style="formal")
        for kind, style, t in pick(pair, ATT_BENIGN, 10, key=lambda x: x[2]):
            add(f, fill(t), kind, pair=pair, ideology=ideology, target=target, style=style)
        for kind, style, t in pick(pair + "v", ATT_VIOL, 7, key=lambda x: x[2]):
            txt = fill(t)
            txt = txt[:1].upper() + txt[1:] if style != "slang" else txt
            add(f, txt, kind, pair=pair, ext=1, vio=1, hate=hate, ideology=ideology,
                target=target, style=style)


# --------------------------------------------------------------------------------------
# 6. Emoji (contrast_emoji.jsonl)
# --------------------------------------------------------------------------------------
EMOJI_GROUPS = [  # (target, emoji, ideology)
    ("lgbtq", "🏳️‍🌈", "anti_lgbtq"), ("trans_people", "🏳️‍⚧️", "anti_lgbtq"),
    ("muslims", "🧕", "anti_muslim"), ("jews", "✡️", "antisemitic"), ("muslims", "☪️", "anti_muslim"),
    ("hindus", "🕉️", "anti_hindu"), ("sikhs", "🪯", "anti_sikh"), ("christians", "✝️", "anti_christian"),
    ("buddhists", "☸️", "anti_buddhist"), ("disabled_people", "♿", "ableist"),
]
EMOJI_PRAISE = [
    "love my {e} friends 💖", "{e} people make this city better ❤️", "{e} fam forever 🫶",
    "so proud of my {e} siblings today 🥹✨", "{e} + ❤️ = my whole community", "{e} 💛💛✨",
    "{e}🤝❤️", "my {e} neighbours brought soup when i was sick 🥣😭 angels", "{e} people deserve all the 💐 today",
    "{e} 🙌🙌 happy to see so many at the event",
]
EMOJI_ATTACK = [
    ("incitement", 1, "{e} people should be 🔥"), ("dehumanisation", 0, "{e} = 🐀🐀🐀"),
    ("incitement", 1, "all {e} people 🪢🪢"), ("incitement", 1, "{e} 🔫🔫💀"),
    ("dehumanisation", 0, "get rid of every {e} 🤮🗑️"), ("dehumanisation", 0, "{e} people belong in the 🗑️"),
    ("dehumanisation", 0, "{e} = 🪳 change my mind"),
]


def build_emoji() -> None:
    f = "contrast_emoji"
    for tid, e, ideology in EMOJI_GROUPS:
        pair = f"contrast:emoji-{tid}-{rank(e)[:6]}"
        for t in pick(pair, EMOJI_PRAISE, 8):
            add(f, t.replace("{e}", e), "positive", pair=pair, ideology=ideology, target=tid,
                style="slang")
        for kind, vio, t in pick(pair + "h", EMOJI_ATTACK, 5, key=lambda x: x[2]):
            add(f, t.replace("{e}", e), kind, pair=pair, hate=1, vio=vio,
                off=None if vio else 1, ideology=ideology, target=tid, style="slang")
    mourn = ["Praying for everyone hurt in {N} 🙏🤍🕯️", "{N} 💔🕯️ rest in peace to every single one of them",
             "🕯️🕯️ never forget the victims of {N}", "{N}. no words. 🤍🙏"]
    celebrate = ["{N} 🔥💥😂 more please", "{N} 💥💥🏴 do it again", "🔥🔥 {N} 🔥🔥 legends"]
    for aid, noun, _f, _v, _s, ideology, hate, target in ATTACKS:
        pair = f"contrast:attack-{aid}"
        for t in pick(pair + "em", mourn, 2):
            add(f, t.replace("{N}", noun), "victim_support", pair=pair, ideology=ideology,
                target=target, style="slang")
        for t in pick(pair + "ec", celebrate, 1):
            add(f, t.replace("{N}", noun), "glorification", pair=pair, ext=1, vio=1, hate=hate,
                ideology=ideology, target=target, style="slang")
    # the same fire and bomb emoji on harmless things
    fire = ["this biryani is 🔥🔥🔥", "new album is straight 💣💥 no skips", "that goal was 🔥🔥 what a strike",
            "mum's Eid desserts 🔥🔥 I'm not sharing", "the Diwali fireworks last night 🎆🔥💥",
            "💀💀💀 this meme killed me", "my sourdough came out 🔥", "trivia night we absolutely 💣 it",
            "Friday nasheed playlist 🔥🤲", "dad's BBQ 🔥🔥🍖 summer is here", "her solo at the gurdwara kirtan 🥹🔥",
            "that Hanukkah latke recipe 🔥💯", "gym pr today 💥💪 lets goooo", "sunset over the lake 🔥🌅"]
    for i, t in enumerate(fire):
        add(f, t, "neutral_mention", pair=f"contrast:emoji-fire-{i // 5}", style="slang")


# --------------------------------------------------------------------------------------
# 7. Hyperbole and profanity aimed at nobody vs real threats (contrast_threats.jsonl)
# --------------------------------------------------------------------------------------
HYPER = [  # (pair topic, kind, offensive, text)
    ("exam", "hyperbole", 0, "this exam is killing me, 3 more papers to go"),
    ("exam", "hyperbole", 0, "Organic chemistry is going to be the death of me."),
    ("exam", "hyperbole", 1, "this stats exam can go to hell, I'm done"),
    ("exam", "hyperbole", 0, "If I fail this exam my mum will actually kill me lol"),
    ("food", "hyperbole", 0, "I'm going to murder this pizza. Large, extra cheese, no regrets."),
    ("food", "hyperbole", 0, "could murder a curry right now tbh"),
    ("food", "hyperbole", 0, "That chilli sauce nearly killed me. 10/10 would suffer again."),
    ("food", "hyperbole", 1, "this fucking kebab is the best thing I've eaten all year"),
    ("printer", "object_abuse", 1, "I'm going to throw this piece of shit printer out the window"),
    ("printer", "object_abuse", 1, "the office printer is possessed. burn it. burn it with fire"),
    ("printer", "object_abuse", 0, "Someone please put our printer out of its misery."),
    ("wifi", "object_abuse", 1, "the wifi in this flat is absolute garbage, I want to strangle the router"),
    ("wifi", "object_abuse", 0, "My laptop froze for the fifth time today. I'm going to drown it in the bath."),
    ("weather", "object_abuse", 1, "this bloody rain can piss off, three weeks straight now"),
    ("weather", "hyperbole", 0, "The heat today is murder. Hiding indoors with the fan until October."),
    ("weather", "object_abuse", 1, "fuck this wind honestly, lost another umbrella"),
    ("traffic", "hyperbole", 0, "Traffic on the ring road this morning was murder."),
    ("traffic", "object_abuse", 1, "this commute is a fucking nightmare, two hours to go nine miles"),
    ("traffic", "hyperbole", 0, "If this bus is late again I'm going to lose my mind."),
    ("team", "object_abuse", 1, "United were absolute dogshit today, sack the whole defence"),
    ("team", "gaming", 0, "We slaughtered them 5-0, best away day in years"),
    ("team", "object_abuse", 1, "this referee is a clown, blind as a bat, worst performance I've ever seen"),
    ("team", "hyperbole", 0, "That last-minute winner nearly gave my dad a heart attack."),
    ("game", "gaming", 0, "nuked their base in the last round, GG ez"),
    ("game", "gaming", 0, "Sniped the whole enemy squad from the tower, what a clutch."),
    ("game", "gaming", 1, "my teammates are trash, I carried these idiots all night"),
    ("monday", "profanity", 1, "Mondays can fuck right off"),
    ("monday", "hyperbole", 0, "Another meeting that could've been an email. Kill me now."),
    ("monday", "profanity", 1, "holy shit what a week, I need a nap that lasts until Easter"),
    ("gym", "hyperbole", 0, "Leg day absolutely destroyed me. Can't walk down stairs."),
    ("gym", "hyperbole", 0, "My personal trainer is trying to murder me, I swear."),
    ("sibling", "hyperbole", 0, "My little brother ate my leftovers again. I'm going to kill him lol"),
    ("sibling", "hyperbole", 0, "if my sister borrows my hoodie one more time i'm disowning her 😤"),
    ("phone", "object_abuse", 1, "this stupid phone keeps dying at 40%, I'm going to smash it"),
    ("phone", "hyperbole", 0, "battery at 1% and no charger. this is how I die."),
    ("work", "profanity", 1, "deadline moved up two days, fml, send coffee"),
    ("work", "hyperbole", 0, "This spreadsheet is slowly killing me, one cell at a time."),
    ("cooking", "hyperbole", 0, "Burnt the rice again. Mum is going to kill me."),
    ("cooking", "object_abuse", 1, "this oven is a useless piece of crap, everything comes out raw in the middle"),
    ("cat", "hyperbole", 0, "The cat knocked my coffee over again. She's lucky she's cute or I'd kill her."),
]
THREATS = [  # (pair topic, kind, hate, ideology, target, text)
    ("exam", "threat", 0, "none", "individual", "If my teacher fails me again I'm going to wait for him after school and hurt him badly. I mean it."),
    ("food", "threat", 0, "none", "individual", "The guy at the takeaway got my order wrong again. Next time I'm going back there to put him in hospital."),
    ("printer", "threat", 0, "none", "workplace", "Everyone in this office is going to regret how they treat me. Friday, you'll all see."),
    ("wifi", "threat", 0, "none", "individual", "My landlord still hasn't fixed anything. I know where he lives and I'm going to make him bleed."),
    ("weather", "threat", 0, "none", "individual", "My neighbour keeps parking in my space. Next time I see him I'm breaking his legs, not joking."),
    ("traffic", "threat", 0, "none", "individual", "The driver who cut me up today, I got your plate. I'm going to find you and kill you."),
    ("team", "threat", 0, "none", "group", "United fans, we'll be waiting outside the ground after the match. You're getting stabbed."),
    ("team", "threat", 0, "none", "individual", "That referee should be beaten half to death in the car park after what he did today. I'll do it myself."),
    ("game", "threat", 0, "none", "individual", "i know ur real name and ur school from ur stream. see u monday, ur dead"),
    ("monday", "threat", 0, "none", "workplace", "My manager humiliated me in front of everyone. Monday morning he's going to find out what happens when you push me."),
    ("sibling", "threat", 0, "none", "individual", "My ex thinks she can just leave. I'll kill her before I let her walk away. I'm not joking this time."),
    ("phone", "threat", 0, "none", "individual", "Keep texting my girlfriend and I will put you in the ground, mate."),
    ("work", "threat", 0, "none", "workplace", "They fired me for nothing. They'll see me again at the office, and this time I won't be asking nicely."),
    ("gym", "threat", 0, "none", "individual", "the guy who laughed at me at the gym, i'm going to wait for him and smash his skull in"),
    ("cooking", "threat", 0, "none", "individual", "my flatmate ate my food again. next time i'm getting a knife and he'll learn"),
    ("cat", "threat", 0, "none", "individual", "The kid next door hurt my cat. Tonight I'm going to hurt him back, way worse."),
]
GROUP_THREAT_T = [
    "{G} round here better watch themselves. We're coming for them this weekend.",
    "every family of {g} on this estate has until the end of the month, after that we start hurting people",
    "I'm going to make sure the {g} in my town are too scared to leave their houses. They'll learn.",
    "if i see any {g} near my kids' school again they're getting their heads kicked in",
    "Saturday we march to wherever the {g} live, and anyone who gets in our way gets hurt.",
]
GROUP_BENIGN_T = [
    ("counter_speech", "Posters saying '{g}, we're coming for you' went up near the station. Residents took them down within an hour and left flowers instead."),
    ("pro_diversity", "{G} round here can walk home safely and that's how it should stay. Proud of this town."),
    ("counter_speech", "someone's threatening {g} on the local facebook group again. screenshots sent to the police, don't engage"),
]

HYPER += [
    ("exam", "hyperbole", 0, "revision timetable says i'm 'on track'. revision timetable is lying to me 💀"),
    ("exam", "profanity", 1, "Results day tomorrow and I feel sick as shit"),
    ("exam", "hyperbole", 0, "My dissertation supervisor's comments have slain me. Back to chapter one."),
    ("food", "hyperbole", 0, "i would commit crimes for my nan's biryani no joke"),
    ("food", "hyperbole", 0, "Those ghost pepper wings were a war crime against my tongue."),
    ("food", "hyperbole", 0, "Demolished an entire tray of baklava by myself. No survivors."),
    ("food", "profanity", 1, "whoever invented cheesy chips deserves a fucking knighthood"),
    ("printer", "object_abuse", 1, "paper jam AGAIN. this printer is the spawn of satan, I hope it rots"),
    ("printer", "object_abuse", 0, "Our printer has been declared a hostile entity by the finance team."),
    ("wifi", "object_abuse", 1, "my broadband provider is a bunch of useless clowns, 5 days with no internet"),
    ("wifi", "hyperbole", 0, "Wi-Fi down for ten minutes and the whole house descended into civil war."),
    ("weather", "hyperbole", 0, "This humidity is trying to kill me personally."),
    ("weather", "object_abuse", 1, "snow in april?? fuck off winter, nobody invited you back"),
    ("weather", "hyperbole", 0, "It's so cold my car door froze shut and I may have to live in it now."),
    ("traffic", "object_abuse", 1, "whoever designed this roundabout should be ashamed, absolute shambles of a junction"),
    ("traffic", "hyperbole", 0, "Stuck behind a tractor for 40 minutes. Send help, send snacks."),
    ("traffic", "profanity", 1, "train cancelled again, what a shitshow this network is"),
    ("team", "object_abuse", 1, "City bottled it AGAIN, useless overpaid bunch, I'm done with this club"),
    ("team", "gaming", 0, "Our under-12s destroyed the league leaders 6-1, absolute massacre, so proud"),
    ("team", "hyperbole", 0, "If we lose the derby I'm moving to the moon."),
    ("team", "object_abuse", 1, "that linesman needs glasses and a new career, what a joke"),
    ("team", "gaming", 0, "The bowlers murdered their top order this morning. Four down before lunch."),
    ("game", "gaming", 0, "Finally killed the final boss after 60 tries. I'm shaking."),
    ("game", "gaming", 0, "we wiped the other clan off the map last night, revenge for last week 😎"),
    ("game", "gaming", 1, "who let this noob on the team, he's dogshit, uninstall pls"),
    ("game", "gaming", 0, "Headshot from across the map, the whole lobby went silent."),
    ("monday", "hyperbole", 0, "My alarm went off at 6am and I have chosen violence against my snooze button."),
    ("monday", "profanity", 1, "bloody hell, forgot my lunch, my keys and my will to live"),
    ("gym", "hyperbole", 0, "That spin class was an execution. RIP my thighs."),
    ("gym", "hyperbole", 0, "ran my first 10k today and my legs have filed for divorce"),
    ("sibling", "hyperbole", 0, "My sister spoiled the finale for me. She is dead to me until at least Tuesday."),
    ("sibling", "hyperbole", 0, "Dad tried to fix the sink himself. Mum is going to murder him when she gets home 😂"),
    ("phone", "object_abuse", 1, "autocorrect is a bastard, it changed 'meeting' to 'mating' in an email to my boss"),
    ("phone", "hyperbole", 0, "Dropped my phone in the toilet. Holding a funeral at 6."),
    ("work", "hyperbole", 0, "Inbox at 400 unread. I'm going to burn it all down and start a goat farm."),
    ("work", "profanity", 1, "who the hell schedules a meeting for 4:55 on a friday"),
    ("work", "object_abuse", 1, "this new HR software is a steaming pile of garbage"),
    ("cooking", "hyperbole", 0, "Tried to make bread. The bread won. I am defeated."),
    ("cooking", "hyperbole", 0, "my smoke alarm is my biggest fan, it cheers every time i cook"),
    ("cat", "hyperbole", 0, "The dog ate a whole sock and looked me in the eye. I'm going to strangle him (I'm not, he's perfect)."),
    ("cat", "object_abuse", 1, "the pigeons on my balcony are evil little shits, they wake me up at 5 every day"),
    ("diy", "hyperbole", 0, "Flat-pack wardrobe has won the war. I surrender."),
    ("diy", "object_abuse", 1, "these instructions were written by a sadist, six screws missing and no diagram, fuck this"),
    ("diy", "hyperbole", 0, "I'm going to kill whoever invented allen keys."),
    ("music", "hyperbole", 0, "That guitar solo absolutely slayed. I'm not okay."),
    ("music", "hyperbole", 0, "the bassline on this track is lethal 🔥"),
    ("music", "gaming", 0, "Our band killed it at the open mic last night, the crowd went wild."),
    ("shopping", "hyperbole", 0, "Black Friday queues are a bloodbath. I'll shop online, thanks."),
    ("shopping", "object_abuse", 1, "self checkout machines are the devil. 'unexpected item' my arse"),
]
THREATS += [
    ("diy", "threat", 0, "none", "individual", "The builder ripped us off and disappeared. I found his house. He won't walk right when I'm done with him."),
    ("music", "threat", 0, "none", "individual", "The singer who dissed my city on stage, show up here again and you won't leave in one piece."),
    ("shopping", "threat", 0, "none", "individual", "the security guard who threw me out, i'm coming back with my boys tomorrow and he's getting done in"),
    ("exam", "threat", 0, "none", "school", "Everyone at that school who laughed at me is going to pay. Last day of term. Remember I said it."),
    ("work", "threat", 0, "none", "individual", "My boss better lock his door tonight. I'm done being nice and he's done breathing."),
    ("game", "threat", 0, "none", "individual", "keep trash talking kid, i found ur address in the stream background, see u soon"),
    ("team", "threat", 0, "none", "individual", "The striker who missed that penalty should be found and taught a lesson. Break his legs so he never plays again."),
    ("sibling", "threat", 0, "none", "individual", "My brother-in-law hit my sister. He'll be in hospital by the weekend, I'll make sure of it."),
    ("traffic", "threat", 0, "none", "individual", "That cyclist slapped my mirror. Next time I see him I'm driving straight into him."),
    ("weather", "threat", 0, "none", "politicians", "The councillor who cut the flood defences should be dragged out and beaten. I'll lead the way."),
    ("phone", "threat", 0, "none", "journalists", "That reporter who wrote about my family, we know who you are, and you're going to get hurt."),
    ("monday", "threat", 0, "none", "workplace", "Last warning to everyone on my team. Come in Monday and see what happens. Nobody is safe."),
]


def build_threats() -> None:
    f = "contrast_threats"
    for topic, kind, off, text in HYPER:
        add(f, text, kind, pair=f"contrast:hyp-{topic}", off=off,
            style="slang" if text[:1].islower() else "plain")
    for topic, kind, hate, ideology, target, text in THREATS:
        add(f, text, kind, pair=f"contrast:hyp-{topic}", vio=1, hate=hate, off=None,
            ideology=ideology, target=target, style="slang" if text[:1].islower() else "plain")
    for gid, g, ideology in GROUPS:
        pair = f"contrast:gthreat-{gid}"
        fill = lambda t: t.replace("{G}", cap(g)).replace("{g}", g)  # noqa: E731
        for t in pick(pair, GROUP_THREAT_T, 2):
            add(f, fill(t), "threat", pair=pair, vio=1, hate=1, off=None, ideology=ideology,
                target=gid, style="slang" if t[:1].islower() else "plain")
        for kind, t in pick(pair + "b", GROUP_BENIGN_T, 2, key=lambda x: x[1]):
            add(f, fill(t), kind, pair=pair, ideology=ideology, target=gid,
                style="slang" if t[:1].islower() else "plain")


# --------------------------------------------------------------------------------------
def build() -> dict[str, list[dict]]:
    FILES.clear()
    build_places()
    build_words()
    build_groups()
    build_identity()
    build_attacks()
    build_emoji()
    build_threats()
    existing: set[str] = set()
    for path in sorted(SYNTHETIC.glob("*.jsonl")):
        if path.name.startswith("contrast_"):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                existing.add(" ".join(json.loads(line)["text"].lower().split()))
    out: dict[str, list[dict]] = {}
    seen: set[str] = set()
    for name, rows in FILES.items():
        kept = []
        for i, row in enumerate(rows):
            key = " ".join(row["text"].lower().split())
            if key in existing or key in seen:
                continue
            seen.add(key)
            kept.append(validate_row(row, f"{name}:{i}"))
            assert row["pair"].startswith("contrast:"), row
        out[name] = kept
    return out


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def summary(out: dict[str, list[dict]]) -> str:
    lines = ["| file | benign | violating | total |", "|---|---|---|---|"]
    kinds: Counter = Counter()
    for name in sorted(out):
        rows = out[name]
        v = sum(any(r[k] == 1 for k in FLAGGING_LABELS) for r in rows)
        lines.append(f"| `{name}.jsonl` | {len(rows) - v} | {v} | {len(rows)} |")
        for r in rows:
            kinds[(r["kind"], int(any(r[k] == 1 for k in FLAGGING_LABELS)))] += 1
    lines += ["", "| kind | label | rows |", "|---|---|---|"]
    for (kind, lab), n in sorted(kinds.items(), key=lambda x: (-x[0][1], x[0][0])):
        lines.append(f"| {kind} | {lab} | {n} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the JSONL files are stale")
    ap.add_argument("--summary", action="store_true", help="print Markdown counts")
    args = ap.parse_args()
    out = build()
    if args.summary:
        print(summary(out))
        return 0
    stale = []
    for name, rows in out.items():
        path = SYNTHETIC / f"{name}.jsonl"
        text = render(rows)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
