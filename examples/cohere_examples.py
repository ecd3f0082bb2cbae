"""The two Cohere Rerank documentation examples, run through fastrerank.

    python examples/cohere_examples.py MODEL_DIR

With the MiniLM-L6 *test* model (untrained head) the scores are not meaningful rankings;
point MODEL_DIR at a real cross-encoder (e.g. an export of cross-encoder/ms-marco-MiniLM-L6-v2)
for real relevance.
"""

from __future__ import annotations

import json
import sys

from fastrerank import Reranker

CAPITAL_DOCS = [
    "Carson City is the capital city of the American state of Nevada.",
    "The Commonwealth of the Northern Mariana Islands is a group of islands in the Pacific Ocean. Its capital is Saipan.",
    "Capitalization or capitalisation in English grammar is the use of a capital letter at the start of a word.",
    "Washington, D.C. (also known as simply Washington or D.C., and officially as "
    "the District of Columbia) is the capital of the United States.",
    "Capital punishment has existed in the United States since beforethe United States was a country.",
]

SUPPORT_EMAILS = [
    {
        "Title": "Incorrect Password",
        "Content": (
            "Hello, I have been trying to access my account for the past hour and it "
            "keeps saying my password is incorrect. Can you please help me?"
        ),
    },
    {
        "Title": "Confirmation Email Missed",
        "Content": (
            "Hi, I recently purchased a product from your website but I never received a "
            "confirmation email. Can you please look into this for me?"
        ),
    },
    {
        "Title": "Questions about Return Policy",
        "Content": "Hello, I have a question about the return policy for this product. I purchased it a few weeks ago and it is defective.",
    },
    {
        "Title": "Customer Support is Busy",
        "Content": (
            "Good morning, I have been trying to reach your customer support team for the past "
            "week but I keep getting a busy signal. Can you please help me?"
        ),
    },
    {
        "Title": "Received Wrong Item",
        "Content": "Hi, I have a question about my recent order. I received the wrong item and I need to return it.",
    },
    {
        "Title": "Customer Service is Unavailable",
        "Content": (
            "Hello, I have been trying to reach your customer support team for the past "
            "hour but I keep getting a busy signal. Can you please help me?"
        ),
    },
    {
        "Title": "Return Policy for Defective Product",
        "Content": "Hi, I have a question about the return policy for this product. I purchased it a few weeks ago and it is defective.",
    },
    {
        "Title": "Wrong Item Received",
        "Content": "Good morning, I have a question about my recent order. I received the wrong item and I need to return it.",
    },
    {
        "Title": "Return Defective Product",
        "Content": "Hello, I have a question about the return policy for this product. I purchased it a few weeks ago and it is defective.",
    },
]


def main(model_dir: str) -> None:
    rr = Reranker(model_dir)
    response = rr.rerank("What is the capital of the United States?", CAPITAL_DOCS, top_n=3)
    print(json.dumps(response.to_dict(), indent=2))
    response = rr.rerank("What emails have been about returning items?", SUPPORT_EMAILS, top_n=5, rank_fields=["Title", "Content"])
    print(json.dumps(response.to_dict(), indent=2))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python examples/cohere_examples.py MODEL_DIR")
    main(sys.argv[1])
