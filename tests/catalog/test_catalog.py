from pathlib import Path

import pytest

from bot.catalog.model import CatalogError, load_catalog, localized, parse_catalog
from bot.money import Money

REPO = Path(__file__).resolve().parents[2]


def catalog_with(*products: dict[str, object], **extra: object) -> dict[str, object]:
    return {"shop": {"name": "Test shop"}, "products": list(products), **extra}


def product(**fields: object) -> dict[str, object]:
    return {"id": "tee", "title": "T-shirt", "price": "20.00", "currency": "usd", **fields}


def test_the_shipped_example_loads_with_exact_prices() -> None:
    catalog = load_catalog(REPO / "catalog.toml")
    hiker = catalog.get("forest-hiker")
    assert hiker is not None and hiker.price == Money(39700, "usd")
    snow = catalog.get("snow-adventurer")
    assert snow is not None and snow.price == Money(4800, "jpy")
    assert {p.price.currency for p in catalog.on_sale()} >= {"usd", "jpy"}


def test_products_on_sale_follow_sort_then_title_and_skip_inactive() -> None:
    catalog = parse_catalog(
        catalog_with(
            product(id="b", title="Bravo"),
            product(id="a", title="Alpha"),
            product(id="z", title="Zulu", sort=1),
            product(id="off", title="Hidden", active=False),
        ),
        source="c.toml",
    )
    assert [p.id for p in catalog.on_sale()] == ["z", "a", "b"]
    assert catalog.get("off") is not None


def test_localized_text_picks_the_language_then_english() -> None:
    title = {"en": "Tours", "fr": "Circuits"}
    assert localized(title, "fr") == "Circuits"
    assert localized(title, "fr-CA") == "Circuits"
    assert localized(title, "de") == "Tours"
    assert localized("Plain", "fr") == "Plain"


def test_a_file_that_is_not_toml_is_named(tmp_path: Path) -> None:
    path = tmp_path / "catalog.toml"
    path.write_text("[shop\nname = 1")
    with pytest.raises(CatalogError, match=r"catalog\.toml: not valid TOML"):
        load_catalog(path)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="file not found"):
        load_catalog(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (catalog_with(product(colour="red")), "product 'tee', field 'colour': unknown key"),
        (
            catalog_with(product(price="3000.5", currency="jpy")),
            "product 'tee', field 'price': 3000.5 has more decimals than JPY allows",
        ),
        (
            catalog_with(product(price="1000000")),
            "product 'tee', field 'price': 1000000 is more than Stripe takes",
        ),
        (catalog_with(product(price="0")), "product 'tee', field 'price': must be more than"),
        (catalog_with(product(price="-5")), "product 'tee', field 'price': must be more than"),
        (catalog_with(product(price=20)), "product 'tee', field 'price': must be a decimal"),
        (catalog_with(product(), product()), "id 'tee' is used twice"),
        (catalog_with(product(category="hats")), "field 'category': no category 'hats'"),
        (catalog_with(product(id="Bad Id")), "product 'Bad Id', field 'id'"),
        (catalog_with(product(title="")), "product 'tee', field 'title'"),
        (
            catalog_with(product(description="x" * 701)),
            "product 'tee', field 'description': must be a non-empty string of at most 700",
        ),
        (
            catalog_with(product(description={"en": "Short", "fr": "x" * 701})),
            "product 'tee', field 'description': must be a non-empty string of at most 700",
        ),
        (catalog_with(product(currency="dollars")), "product 'tee', field 'currency'"),
        (catalog_with(product(max_per_order=0)), "product 'tee', field 'max_per_order'"),
        (catalog_with(), "field 'products'"),
        ({"products": [product()]}, "field 'shop': is required"),
        (
            catalog_with(product(), categories=[{"id": "x", "title": "X", "icon": "?"}]),
            "category 'x', field 'icon': unknown key",
        ),
    ],
)
def test_each_mistake_names_the_file_the_product_and_the_field(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(data, source="shop.toml")
    assert str(caught.value).startswith("shop.toml")
    assert message in str(caught.value)
