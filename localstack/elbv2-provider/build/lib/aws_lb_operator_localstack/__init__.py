"""LocalStack plugins used by aws-lb-operator's test harness."""
