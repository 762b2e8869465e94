"""The buyers' languages: one gettext catalog per `bot/locales/<code>/LC_MESSAGES/messages.po`,
compiled with Babel when first needed (no compiled files to keep in step with the sources)."""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from bot.money import locale_for

DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class Language:
    """One language the bot speaks: its translations, and the Babel locale for its prices."""

    code: str
    locale: Locale
    translations: Translations

    def _(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return self.translations.ngettext(singular, plural, count)

    @property
    def name(self) -> str:
        """The language's name in itself: "English", "Français"."""
        name = self.locale.get_display_name(self.locale) or self.code
        return name[:1].upper() + name[1:]


class Languages:
    """Every language with a catalog, and the choice of one for a Telegram `language_code`."""

    def __init__(self, by_code: Mapping[str, Language]) -> None:
        if DEFAULT_LANGUAGE not in by_code:
            raise ValueError(f"no {DEFAULT_LANGUAGE} catalog among {sorted(by_code)}")
        self._by_code = dict(by_code)

    @property
    def codes(self) -> list[str]:
        return sorted(self._by_code)

    def all(self) -> list[Language]:
        return [self._by_code[code] for code in self.codes]

    def get(self, language_code: str | None) -> Language:
        """The language for "fr", "fr-CA" or "pt-br"; English when there is no catalog for it."""
        if language_code:
            code = language_code.lower().replace("_", "-")
            for candidate in (code, code.split("-")[0]):
                if candidate in self._by_code:
                    return self._by_code[candidate]
        return self._by_code[DEFAULT_LANGUAGE]


def compile_po(code: str, source: bytes) -> Language:
    """Compile one .po file in memory; fuzzy entries are left out, as msgfmt does."""
    catalog = read_po(io.BytesIO(source), locale=code, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Language(code, locale_for(code), Translations(compiled, domain=DOMAIN))


@functools.cache
def languages() -> Languages:
    """The catalogs shipped in bot/locales, loaded once."""
    found = {}
    for folder in resources.files("bot").joinpath("locales").iterdir():
        po = folder.joinpath("LC_MESSAGES", f"{DOMAIN}.po")
        if po.is_file():
            found[folder.name] = compile_po(folder.name, po.read_bytes())
    return Languages(found)


def language(language_code: str | None) -> Language:
    """Shortcut: the language the bot speaks to someone whose language is `language_code`."""
    return languages().get(language_code)
