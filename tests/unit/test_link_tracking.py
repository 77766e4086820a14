"""UTM tagging: every store link once, queries and fragments kept, everything else left alone."""

from __future__ import annotations

from nudge.link_tracking import LinkTracking, track_email, without_markers

TRACKING = LinkTracking(
    source="nudge",
    campaign="cart_abandoned-2",
    domains=frozenset({"shop.example"}),
    untracked=frozenset({"https://shop.example/unsubscribe?token=abc"}),
)
UTM = "utm_source=nudge&utm_medium=email&utm_campaign=cart_abandoned-2"


def test_a_store_link_gets_the_campaign_and_its_block_and_loses_the_marker() -> None:
    html, _ = track_email('<a href="https://shop.example/cart/1" data-utm-content="cta">Go</a>', "", TRACKING)
    assert (
        html
        == f'<a href="https://shop.example/cart/1?{UTM.replace("&", "&amp;")}&amp;utm_content=cta">Go</a>'
    )


def test_an_existing_query_is_kept_byte_for_byte_and_the_fragment_stays_last() -> None:
    html, _ = track_email('<a href="https://shop.example/p?id=a%20b&amp;x=1#reviews">P</a>', "", TRACKING)
    assert 'href="https://shop.example/p?id=a%20b&amp;x=1&amp;utm_source=nudge' in html
    assert html.endswith('utm_content=link#reviews">P</a>')


def test_a_utm_value_already_on_the_link_is_replaced_not_doubled() -> None:
    html, _ = track_email('<a href="https://shop.example/?utm_source=old&amp;ref=x">S</a>', "", TRACKING)
    assert html.count("utm_source=") == 1 and "utm_source=nudge" in html and "ref=x" in html


def test_other_domains_the_unsubscribe_link_and_non_web_links_are_left_alone() -> None:
    links = [
        "https://other.example/p",
        "https://shop.example.evil.example/p",
        "https://shop.example/unsubscribe?token=abc",
        "mailto:help@shop.example",
    ]
    source = "".join(f'<a href="{url}">x</a>' for url in links)
    html, text = track_email(source, "\n".join(links), TRACKING)
    assert html == source and text == "\n".join(links)


def test_a_subdomain_of_the_store_is_the_store() -> None:
    html, _ = track_email('<a href="https://www.shop.example/">W</a>', "", TRACKING)
    assert "utm_campaign=cart_abandoned-2" in html


def test_the_text_part_takes_the_block_of_the_same_url_in_the_html_and_keeps_punctuation() -> None:
    html = '<a href="https://shop.example/cart/1" data-utm-content="cta">Go</a>'
    _, text = track_email(
        html, "Return to your cart: https://shop.example/cart/1.\nHome https://shop.example", TRACKING
    )
    assert f"https://shop.example/cart/1?{UTM}&utm_content=cta.\n" in text
    assert text.endswith(f"https://shop.example?{UTM}&utm_content=link")


def test_the_outlook_button_inside_a_conditional_comment_is_tagged_too() -> None:
    html, _ = track_email(
        '<!--[if mso]><v:roundrect href="https://shop.example/c" data-utm-content="cta" arcsize="14%">'
        "<![endif]-->",
        "",
        TRACKING,
    )
    assert 'href="https://shop.example/c?utm_source=nudge' in html and "data-utm-content" not in html


def test_without_tracking_only_the_markers_go() -> None:
    assert without_markers('<a href="https://shop.example/" data-utm-content="cta">S</a>') == (
        '<a href="https://shop.example/">S</a>'
    )
