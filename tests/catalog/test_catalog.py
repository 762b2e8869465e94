from pathlib import Path

import pytest

from bot.catalog.model import CatalogError, load_catalog, localized, parse_catalog
from bot.money import Money

REPO = Path(__file__).resolve().parents[2]


def catalog_with(*products: dict[str, object], **extra: object) -> dict[str, object]:
    return {"shop": {"name": "Test shop"}, "products": list(products), **extra}


def product(**fields: object) -> dict[str, object]:
    return {"id": "tee", "title": "T-shirt", "price": "20.00", "currency": "usd"} | fields


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


# -- digital goods: deliver and rail -----------------------------------------------------------


def digital(**fields: object) -> dict[str, object]:
    given = {"id": "guide", "price": "150", "currency": "xtr"}
    return product(**(given | {"deliver": {"text": "https://example.com/dl"}} | fields))


def test_a_digital_product_priced_for_stripe_is_refused_and_told_why() -> None:
    data = catalog_with(product(deliver={"text": "Download at https://example.com/dl"}))
    with pytest.raises(CatalogError) as caught:
        parse_catalog(data, source="shop.toml")
    message = str(caught.value)
    assert message.startswith("shop.toml: product 'tee', field 'rail': a digital product")
    assert "Telegram Stars" in message
    assert 'rail = "stripe"' in message


def test_rail_stripe_lets_an_owner_sell_a_digital_product_by_card() -> None:
    data = catalog_with(product(deliver={"text": "Book at https://example.com"}, rail="stripe"))
    tee = parse_catalog(data, source="shop.toml").get("tee")
    assert tee is not None and tee.deliver is not None
    assert (tee.deliver.kind, tee.stars) == ("text", False)


def test_a_product_priced_in_stars_is_sold_in_whole_stars() -> None:
    guide = parse_catalog(catalog_with(digital()), source="shop.toml").get("guide")
    assert guide is not None
    assert guide.price == Money(150, "xtr")
    assert guide.stars


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (catalog_with(digital(price="150.5")), "field 'price': 150.5 has more decimals than XTR"),
        (catalog_with(digital(rail="stripe")), "field 'rail': Stripe does not take XTR"),
        (catalog_with(product(rail="stars")), "field 'rail': Stars are paid in XTR"),
        (catalog_with(product(rail="card")), 'field \'rail\': must be "stripe" or "stars"'),
        (
            catalog_with(digital(deliver={"text": "a", "invite": -100123})),
            "field 'deliver': give exactly one of file, keys, invite or text",
        ),
        (catalog_with(digital(deliver={})), "field 'deliver': give exactly one"),
        (catalog_with(digital(deliver={"invite": 100123})), "field 'deliver.invite': must be"),
        (catalog_with(digital(deliver={"url": "x"})), "field 'deliver.url': unknown key"),
        (
            catalog_with(digital(deliver={"file": "nope/guide.pdf"})),
            "field 'deliver.file':",
        ),
        (
            catalog_with(digital(deliver={"keys": "nope.txt"})),
            "field 'deliver.keys':",
        ),
    ],
)
def test_each_delivery_mistake_names_the_product_and_the_field(
    data: dict[str, object], message: str, tmp_path: Path
) -> None:
    with pytest.raises(CatalogError) as caught:
        parse_catalog(data, source="shop.toml", base=tmp_path)
    assert str(caught.value).startswith("shop.toml: product ")
    assert message in str(caught.value)


def test_a_key_pool_is_read_from_its_file_next_to_the_catalog(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "guide.txt").write_text("AAAA-1111\n\n  BBBB-2222 \n")
    (tmp_path / "guide.pdf").write_bytes(b"%PDF-1.4")
    path = tmp_path / "catalog.toml"
    path.write_text(
        '[shop]\nname = "S"\n'
        '[[products]]\nid = "key"\ntitle = "Key"\nprice = "150"\ncurrency = "xtr"\n'
        'deliver = { keys = "keys/guide.txt" }\n'
        '[[products]]\nid = "pdf"\ntitle = "PDF"\nprice = "90"\ncurrency = "xtr"\n'
        'deliver = { file = "guide.pdf" }\n'
        '[[products]]\nid = "known"\ntitle = "Known"\nprice = "90"\ncurrency = "xtr"\n'
        'deliver = { file = "BQACAgIAAxkBAAIBZW11bGF0b3Ixx" }\n'
    )
    catalog = load_catalog(path)
    assert catalog.key_pools() == {"key": ("AAAA-1111", "BBBB-2222")}
    pdf, known = catalog.get("pdf"), catalog.get("known")
    assert pdf is not None and pdf.deliver is not None and pdf.deliver.file_is_path
    assert pdf.deliver.file == str((tmp_path / "guide.pdf").resolve())
    assert known is not None and known.deliver is not None and not known.deliver.file_is_path


def test_a_key_pool_refuses_a_code_twice_and_a_stock(tmp_path: Path) -> None:
    (tmp_path / "k.txt").write_text("AAAA\nBBBB\nAAAA\n")
    data = catalog_with(digital(deliver={"keys": "k.txt"}))
    with pytest.raises(CatalogError, match="line 3: the code on line 1 again"):
        parse_catalog(data, source="shop.toml", base=tmp_path)
    (tmp_path / "k.txt").write_text("AAAA\n")
    data = catalog_with(digital(deliver={"keys": "k.txt"}, stock=5))
    with pytest.raises(CatalogError, match="field 'stock': a key pool's product"):
        parse_catalog(data, source="shop.toml", base=tmp_path)
