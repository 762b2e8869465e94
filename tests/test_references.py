from bot.references import ALPHABET, order_id_for, reference_for


def test_every_reference_leads_back_to_its_order() -> None:
    ids = [*range(1, 3000), 2**20 - 1, 2**20, 2**25 + 7, 10**12]
    assert all(order_id_for(reference_for(order_id)) == order_id for order_id in ids)


def test_references_are_short_unique_and_not_sequential() -> None:
    refs = [reference_for(order_id) for order_id in range(1, 1001)]
    assert len(set(refs)) == 1000
    assert all(len(ref) == 4 and set(ref) <= set(ALPHABET) for ref in refs)
    assert refs != sorted(refs)


def test_lookup_is_forgiving_about_case_and_the_hash_sign() -> None:
    ref = reference_for(42)
    assert order_id_for(f"#{ref.lower()}") == 42


def test_text_that_is_no_reference_names_no_order() -> None:
    for text in ("", "K7Q", "hello", "K7Q!", "IIII", "#"):
        assert order_id_for(text) is None
