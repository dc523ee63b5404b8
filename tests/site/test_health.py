"""The health check a load balancer (and the benchmark's bare view) calls: no session, no database."""


def test_health_answers_ok_without_touching_the_database(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health/")
    assert response.status_code == 200 and response.content == b"ok"
    assert "sessionid" not in response.cookies
    assert client.post("/health/").status_code == 405
