"""Data sets the course uses. All work offline: bundled, generated, or checksummed downloads."""

from lessons_pkg.data.book import book_corpus, book_pages, book_snapshot, clean_markdown
from lessons_pkg.data.corpus import CorpusConfig, CorpusSource, make_corpus
from lessons_pkg.data.digits import DigitsSplit, digits_loaders, load_digits_split
from lessons_pkg.data.masking import IGNORE_INDEX, mask_tokens
from lessons_pkg.data.mixtures import grid_of_gaussians, mode_metrics, ring_of_gaussians
from lessons_pkg.data.text import CharTokenizer, LMWindows, lm_windows, train_val_split
from lessons_pkg.data.toy2d import make_blobs, make_moons
from lessons_pkg.data.translation import TranslationDataset, date_tokenizers, make_date_split

__all__ = [
    "CharTokenizer", "CorpusConfig", "CorpusSource", "DigitsSplit", "IGNORE_INDEX", "LMWindows",
    "TranslationDataset", "book_corpus", "book_pages", "book_snapshot", "clean_markdown",
    "date_tokenizers", "digits_loaders", "grid_of_gaussians",
    "lm_windows", "load_digits_split", "make_blobs", "make_corpus", "make_date_split",
    "make_moons", "mask_tokens", "mode_metrics", "ring_of_gaussians", "train_val_split",
]
