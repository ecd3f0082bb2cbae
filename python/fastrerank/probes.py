"""The built-in probe set every export is measured on: queries and short documents (they fit
any window, so the reference needs no windowing) across topics, languages and oddities."""

from __future__ import annotations

QUERIES = [
    "what is the capital of the united states",
    "how do I return a defective product",
    "symptoms of vitamin d deficiency",
    "best way to learn python programming",
    "why is the sky blue",
    "how does a cross-encoder rerank search results",
    "quelle est la capitale de la France",
    "cheap flights to tokyo in spring",
    "how to fix a leaking kitchen faucet",
    "effects of caffeine on sleep",
    "история москвы",
    "mortgage interest rates explained",
]

DOCUMENTS = [
    "Washington, D.C. is the capital of the United States of America.",
    "Carson City is the capital city of the American state of Nevada.",
    "Hi, I received a broken item and want to send it back for a refund.",
    "Our return policy allows returns of defective products within 30 days.",
    "Vitamin D deficiency can cause fatigue, bone pain and muscle weakness.",
    "Sunlight exposure helps the body produce vitamin D.",
    "Python is a popular programming language for beginners and experts alike.",
    "The best way to learn to code is to build small projects every day.",
    "Rayleigh scattering makes the sky look blue: short wavelengths scatter more.",
    "Sunsets are red because light travels through more atmosphere.",
    "A cross-encoder reads the query and the document together and outputs a relevance score.",
    "Bi-encoders embed queries and documents separately for fast retrieval.",
    "Paris est la capitale de la France et sa plus grande ville.",
    "Tokyo is famous for cherry blossoms in spring; flights are busiest in April.",
    "To fix a dripping faucet, replace the worn washer or cartridge.",
    "Caffeine blocks adenosine receptors and can delay sleep onset by hours.",
    "Москва — столица России, основана в 1147 году.",
    "A mortgage rate is the interest charged on a home loan, fixed or variable.",
    "Bananas are rich in potassium.",
    "The stock market closed higher on Friday after strong earnings reports.",
    "",
    "🚀🚀🚀 launch day!!! 🎉",
    "Error 404: page not found.",
    "lorem ipsum dolor sit amet, consectetur adipiscing elit",
    "東京は日本の首都です。",
]
