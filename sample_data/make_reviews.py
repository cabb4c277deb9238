"""Generate sample_data/reviews/: 240 short product reviews for the text-classification demo.

Reproducible (fixed seed). Sentiment labels for the single-label job, topic labels for the
multi-label job. Run: python sample_data/make_reviews.py
"""

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent / "reviews"

PRODUCTS = ["headphones", "backpack", "coffee grinder", "desk lamp", "pair of running shoes", "phone case",
            "kettle", "keyboard", "water bottle", "rain jacket", "blender", "notebook", "tent",
            "pair of sunglasses", "watch", "yoga mat", "charger", "frying pan", "umbrella", "mouse"]
POSITIVE = ["works perfectly", "exceeded my expectations", "is exactly as described", "feels really solid",
            "is the best purchase I made this year", "does the job beautifully", "looks great"]
NEGATIVE = ["broke after two days", "stopped working within a week", "is flimsy and cheap", "smells of plastic",
            "was nothing like the photos", "is a waste of money", "arrived scratched"]
NEUTRAL = ["is fine for the price", "does what it says, nothing more", "is okay", "is average at best",
           "is as expected", "is neither good nor bad"]
TOPICS = {
    "quality": ["The build quality {q}.", "Materials {q}."],
    "price": ["For {p} it {v}.", "The price {pp}."],
    "shipping": ["Delivery took {d}.", "It arrived {a}."],
    "service": ["Customer support {s}.", "The seller {s2}."],
}
FILL = {
    "q": {"positive": ["is excellent", "is superb"], "negative": ["is poor", "is awful"], "neutral": ["is acceptable", "is standard"]},
    "p": ["$20", "$45", "$120", "this price"],
    "v": {"positive": ["is a bargain", "is great value"], "negative": ["is overpriced", "is a rip-off"], "neutral": ["is fair", "is priced about right"]},
    "pp": {"positive": ["was a steal", "was very reasonable"], "negative": ["was far too high", "was a joke"], "neutral": ["was normal", "was what I expected"]},
    "d": {"positive": ["just one day", "two days"], "negative": ["three weeks", "over a month"], "neutral": ["about a week", "the usual time"]},
    "a": {"positive": ["early and well packed", "before the promised date"], "negative": ["late and damaged", "with the box crushed"], "neutral": ["on time", "as scheduled"]},
    "s": {"positive": ["was friendly and quick", "sorted my problem in minutes"], "negative": ["never replied", "was rude"], "neutral": ["answered eventually", "was polite"]},
    "s2": {"positive": ["sent a free replacement", "was very helpful"], "negative": ["refused a refund", "ignored my emails"], "neutral": ["sent the standard reply", "followed the usual process"]},
}


def review(rng: random.Random) -> dict:
    sentiment = rng.choice(["positive", "negative", "neutral"])
    product = rng.choice(PRODUCTS)
    opener = rng.choice({"positive": POSITIVE, "negative": NEGATIVE, "neutral": NEUTRAL}[sentiment])
    topics = rng.sample(sorted(TOPICS), rng.randint(1, 2))
    parts = [f"This {product} {opener}."]
    for topic in topics:
        template = rng.choice(TOPICS[topic])
        values = {}
        for key, options in FILL.items():
            if "{" + key + "}" in template:
                values[key] = rng.choice(options[sentiment] if isinstance(options, dict) else options)
        parts.append(template.format(**values))
    return {"text": " ".join(parts), "sentiment": sentiment, "topics": sorted(topics)}


def main() -> None:
    rng = random.Random(7)
    HERE.mkdir(exist_ok=True)
    rows = [review(rng) for _ in range(240)]
    with open(HERE / "reviews.jsonl", "w", encoding="utf-8") as fh:
        for n, row in enumerate(rows, 1):
            fh.write(json.dumps({"source": row["text"], "review-id": f"r{n:04d}"}, separators=(",", ":")) + "\n")
    truth = {f"r{n:04d}": {"sentiment": r["sentiment"], "topics": r["topics"]} for n, r in enumerate(rows, 1)}
    (HERE / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
