from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from apitokens import charts
from apitokens.charts import ChartPoint


def points(*values: int) -> list[ChartPoint]:
    return [ChartPoint(label=f"d{index}", value=value) for index, value in enumerate(values)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (10, 10), (11, 20), (180, 200), (4500, 5000)],
)
def test_nice_ceiling_rounds_up_to_1_2_5(value, expected):
    assert charts.nice_ceiling(value) == expected


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (950, "950"), (1000, "1k"), (1500, "1.5k"), (2_000_000, "2M")]
)
def test_compact_number(value, text):
    assert charts.compact_number(value) == text


@pytest.mark.parametrize(
    ("y_max", "steps"), [(1, 1), (2, 2), (5, 5), (10, 5), (20, 4), (50, 5), (200, 4), (1000, 5)]
)
def test_tick_steps_give_whole_round_labels(y_max, steps):
    assert charts.tick_steps(y_max) == steps
    assert y_max % steps == 0


# --- Bar chart ---------------------------------------------------------------------------


def test_bar_chart_with_no_points_is_empty_with_an_axis():
    chart = charts.bar_chart([])
    assert chart.bars == ()
    assert chart.is_empty
    assert [tick.label for tick in chart.y_ticks] == ["0", "1"]


def test_bar_chart_with_one_point_draws_one_bar_of_capped_width_in_the_middle():
    chart = charts.bar_chart(points(5), width=640)
    (bar,) = chart.bars
    assert bar.width <= 48
    assert bar.x + bar.width / 2 == pytest.approx((chart.plot_left + chart.plot_right) / 2)
    assert bar.y + bar.height == chart.plot_bottom
    assert not chart.is_empty


def test_bar_chart_with_many_points_scales_to_the_tallest():
    chart = charts.bar_chart(points(0, 5, 10, 3), width=400, height=200)
    heights = [bar.height for bar in chart.bars]
    assert heights[0] == 0
    assert heights[2] == pytest.approx(chart.plot_bottom - chart.plot_top)  # 10 of max 10
    assert heights[1] == pytest.approx(heights[2] / 2)
    xs = [bar.x for bar in chart.bars]
    assert xs == sorted(xs)
    assert all(
        chart.plot_left <= bar.x and bar.x + bar.width <= chart.plot_right for bar in chart.bars
    )
    assert [tick.label for tick in chart.y_ticks] == ["0", "2", "4", "6", "8", "10"]
    assert chart.total == 18


def test_negative_values_are_drawn_as_zero():
    chart = charts.bar_chart(points(-4, 2))
    assert chart.bars[0].height == 0


def test_edge_labels_are_anchored_inwards():
    chart = charts.bar_chart(points(*range(30)), label_every=1, width=640)
    assert chart.x_ticks[0].anchor == "start" or chart.x_ticks[0].position - 20 >= 0
    assert chart.x_ticks[-1].anchor == "end"
    assert chart.x_ticks[15].anchor == "middle"


def test_label_every_thins_the_x_labels():
    chart = charts.bar_chart(points(*range(30)), label_every=7)
    assert [tick.label for tick in chart.x_ticks] == ["d0", "d7", "d14", "d21", "d28"]


# --- Line chart ---------------------------------------------------------------------------


def test_line_chart_with_no_points():
    chart = charts.line_chart([])
    assert chart.markers == ()
    assert chart.line_points == ""
    assert chart.area_path == ""
    assert chart.is_empty


def test_line_chart_with_one_point_has_a_marker_and_no_area():
    chart = charts.line_chart(points(3))
    assert len(chart.markers) == 1
    assert chart.area_path == ""


def test_line_chart_with_many_points():
    chart = charts.line_chart(points(1, 4, 2, 0), width=500, height=200)
    assert len(chart.markers) == 4
    assert chart.line_points.count(",") == 4
    assert chart.area_path.startswith("M") and chart.area_path.endswith("Z")
    assert chart.markers[1].y < chart.markers[2].y < chart.markers[0].y < chart.markers[3].y


def test_all_zero_series_is_empty_but_keeps_its_slots():
    chart = charts.line_chart(points(0, 0, 0))
    assert chart.is_empty
    assert len(chart.markers) == 3


# --- Rendered SVG ---------------------------------------------------------------------------


@pytest.mark.parametrize("values", [(), (7,), (3, 0, 12, 5, 9)])
def test_bar_chart_template_renders_svg(values):
    chart = charts.bar_chart(points(*values))
    html = render_to_string("charts/bar_chart.html", {"chart": chart, "label": "Requests"})
    assert html.lstrip().startswith("<svg")
    assert 'role="img"' in html and 'aria-label="Requests"' in html
    assert html.count('class="chart-bar"') == len(values)
    assert ("No requests in this period" in html) == (sum(values) == 0)
    assert "style=" not in html and "<script" not in html


@pytest.mark.parametrize("values", [(), (7,), (3, 0, 12, 5, 9)])
def test_line_chart_template_renders_svg(values):
    chart = charts.line_chart(points(*values))
    html = render_to_string("charts/line_chart.html", {"chart": chart, "label": "Requests"})
    assert html.lstrip().startswith("<svg")
    assert html.count("<circle") == len(values) * (sum(values) > 0)
    assert ("<polyline" in html) == (len(values) > 1)
    assert ("No requests in this period" in html) == (sum(values) == 0)
    assert "style=" not in html


def test_chart_titles_are_escaped():
    chart = charts.bar_chart([ChartPoint(label="<b>", value=1, title="<script>x</script>")])
    html = render_to_string("charts/bar_chart.html", {"chart": chart, "label": "<i>"})
    assert "<script>x" not in html and "&lt;script&gt;" in html
    assert "<b>" not in html and 'aria-label="&lt;i&gt;"' in html
