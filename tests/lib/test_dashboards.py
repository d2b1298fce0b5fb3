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


def test_load_balancer_widgets_graph_each_target_group_against_its_load_balancer():
    ws = dashboards.load_balancer_widgets("r", "app/lb/1", {"a": "targetgroup/a/2"}, "API")
    by_title = {w["properties"]["title"]: w["properties"] for w in ws}
    assert by_title["API requests"]["metrics"] == [
        ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", "app/lb/1"]
    ]
    p99 = by_title["API latency p99 (s)"]
    assert p99["stat"] == "p99"
    assert p99["metrics"] == [
        ["AWS/ApplicationELB", "TargetResponseTime", "TargetGroup", "targetgroup/a/2",
         "LoadBalancer", "app/lb/1"]
    ]  # fmt: skip
    assert by_title["API healthy hosts"]["stat"] == "Minimum"


def test_data_platform_widgets_follow_the_engine():
    aurora = dashboards.data_platform_widgets("r", "app/lb/1", "targetgroup/m/2", True, "c")
    rds = dashboards.data_platform_widgets("r", "app/lb/1", "targetgroup/m/2", False, "i")

    def metrics(ws):
        return {m[1]: m[2:] for w in ws for m in w["properties"]["metrics"]}

    assert metrics(aurora)["ServerlessDatabaseCapacity"] == ["DBClusterIdentifier", "c"]
    assert metrics(aurora)["ACUUtilization"] == ["DBClusterIdentifier", "c"]
    assert "FreeStorageSpace" not in metrics(aurora)
    assert metrics(rds)["FreeStorageSpace"] == ["DBInstanceIdentifier", "i"]
    assert metrics(rds)["CPUUtilization"] == ["DBInstanceIdentifier", "i"]
    assert "ACUUtilization" not in metrics(rds)
    assert metrics(rds)["RequestCount"] == [
        "TargetGroup", "targetgroup/m/2", "LoadBalancer", "app/lb/1"
    ]  # fmt: skip


def test_gpu_widgets_search_the_namespace_exactly_for_each_agent_metric():
    ws = dashboards.gpu_widgets("us-east-1", "p/GPU")
    expressions = [m[0]["expression"] for w in ws for m in w["properties"]["metrics"]]
    assert expressions == [
        """SEARCH('"p/GPU" MetricName="nvidia_smi_utilization_gpu"', 'Average', 300)""",
        """SEARCH('"p/GPU" MetricName="nvidia_smi_memory_used"', 'Maximum', 300)""",
        """SEARCH('"p/GPU" MetricName="nvidia_smi_memory_total"', 'Maximum', 300)""",
    ]
    ids = [m[0]["id"] for w in ws for m in w["properties"]["metrics"]]
    assert ids == ["e1", "e1", "e2"]  # unique within each widget
    assert all(w["properties"]["region"] == "us-east-1" for w in ws)
