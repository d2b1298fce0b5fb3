"""The dashboard body builder: metric rows, widget properties and the grid."""

from components.lib import dashboards


def test_metric_row_lists_dimension_pairs_in_order():
    row = dashboards.metric_row(
        "AWS/ECS", "CPUUtilization", {"ClusterName": "c", "ServiceName": "s"}
    )
    assert row == ["AWS/ECS", "CPUUtilization", "ClusterName", "c", "ServiceName", "s"]


def test_widget_carries_stat_period_region_and_metrics():
    w = dashboards.widget("Depth", "eu-west-1", [("AWS/SQS", "X", {"QueueName": "q"})], "Maximum")
    props = w["properties"]
    assert (props["title"], props["region"], props["stat"], props["period"]) == (
        "Depth",
        "eu-west-1",
        "Maximum",
        300,
    )
    assert props["metrics"] == [["AWS/SQS", "X", "QueueName", "q"]]


def test_body_places_two_widgets_per_row():
    ws = [dashboards.widget(str(i), "r", []) for i in range(3)]
    placed = dashboards.body(ws)["widgets"]
    assert [(w["x"], w["y"]) for w in placed] == [(0, 0), (12, 0), (0, 6)]
