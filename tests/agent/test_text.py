import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from agent.text import MAX_CHARS, TfidfBlock, mask_markup, normalize, prepare

CORPUS = [
    "My internet is DOWN again!! third time this week",
    "I was charged $89.99 twice — refund please",
    "Ｆｕｌｌ width ｔｅｘｔ and café naïve",
    "x",
    "emoji 😀 test 😀😀 tabs\tand\nnewlines",
]


def _blocks():
    for analyzer, ngram_range in (("word", (1, 2)), ("char_wb", (2, 5))):
        fitted = TfidfVectorizer(analyzer=analyzer, ngram_range=ngram_range, sublinear_tf=True).fit(CORPUS)
        block = TfidfBlock(analyzer, dict(fitted.vocabulary_), fitted.idf_.astype(np.float32), ngram_range)
        yield fitted, block


def _dense(block: TfidfBlock, text: str) -> np.ndarray:
    columns, values = block.transform_one(text)
    row = np.zeros(len(block.vocabulary))
    row[columns] = values
    return row


@pytest.mark.parametrize("text", [*CORPUS, "", "unseen words only", "DOWN down Down"])
def test_numpy_transform_matches_scikit_learn(text):
    for fitted, block in _blocks():
        np.testing.assert_allclose(_dense(block, text), fitted.transform([text]).toarray()[0], atol=1e-5)


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_numpy_transform_matches_scikit_learn_on_any_text(text):
    for fitted, block in _blocks():
        np.testing.assert_allclose(_dense(block, text), fitted.transform([text]).toarray()[0], atol=1e-5)


def test_normalize_folds_width_strips_invisibles_and_caps_length():
    assert normalize("１２３\u200bａｂｃ\x00") == "123 abc "
    assert len(normalize("a" * (MAX_CHARS * 3))) == MAX_CHARS


def test_known_ratio_separates_words_from_gibberish():
    _, block = next(_blocks())
    assert block.known_ratio("my internet is down") == 1.0
    assert block.known_ratio("qwxz plmk vvbnt") == 0.0
    assert block.known_ratio("") == 0.0


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("@Ask_Spectrum no internet #outage https://t.co/x1Y", "@user no internet outage <url>"),
        ("see www.example.com/help?a=1 now", "see <url> now"),
        ("mail j.wu@examplecorp.com about account #12345", "mail j.wu@examplecorp.com about account #12345"),
        ("AT&T #1 fan, @user and <url> as the data has them", "AT&T #1 fan, @user and <url> as the data has them"),
    ],
)
def test_markup_is_masked_as_the_social_training_data_has_it(text, masked):
    assert mask_markup(text) == masked
    assert mask_markup(masked) == masked


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_prepare_is_normalize_then_mask(text):
    assert prepare(text, markup=False) == normalize(text)
    assert prepare(text, markup=True) == mask_markup(normalize(text))
