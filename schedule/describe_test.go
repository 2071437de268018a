package schedule

import "testing"

func TestDescribe(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"cron(0 0 * * ? *)", "at 00:00 every day"},
		{"cron(0 10 * * ? *)", "at 10:00 every day"},
		{"rate(15 minutes)", "every 15 minutes"},
		{"rate(1 hour)", "every hour"},
		{"rate(7 days)", "every 7 days"},
		{"cron(0 6 ? * SUN *)", "at 06:00 on Sunday"},
		{"cron(30 2 L * ? *)", "at 02:30 on the last day of the month"},
		{"cron(0 9 ? * 3#2 *)", "at 09:00 on the second Tuesday of the month"},
		{"at(2026-12-01T10:00:00)", "once at 2026-12-01 10:00"},
		{"at(2019-07-07T13:15:30)", "once at 2019-07-07 13:15:30"},
		{"cron(0/15 * * * ? *)", "every 15 minutes"},
		{"cron(0/5 8-17 ? * MON-FRI *)", "every 5 minutes from 08:00 to 17:55 on Monday through Friday"},
		{"cron(15 10 ? * MON-FRI *)", "at 10:15 on Monday through Friday"},
		{"cron(0 18 ? * MON,WED,FRI *)", "at 18:00 on Monday, Wednesday and Friday"},
		{"cron(15 10 ? * 6L *)", "at 10:15 on the last Friday of the month"},
		{"cron(0 2 ? * THU#3 *)", "at 02:00 on the third Thursday of the month"},
		{"cron(24 30 09 ? * * *)", "at 09:30:24 every day"},
		{"cron(0 8 1 * ? *)", "at 08:00 on day 1 of the month"},
		{"cron(0 8 1,15 * ? *)", "at 08:00 on days 1 and 15 of the month"},
		{"cron(0 0 29 2 ? *)", "at 00:00 on February 29"},
		{"cron(0 9 LW * ? *)", "at 09:00 on the last weekday of the month"},
		{"cron(0 9 15W * ? *)", "at 09:00 on the weekday nearest day 15 of the month"},
		{"cron(0 0/4 * * ? *)", "every 4 hours"},
		{"cron(30 1/6 * * ? *)", "every 6 hours starting at 01:30"},
		{"cron(0 * * * ? *)", "every hour"},
		{"cron(30 * * * ? *)", "at 30 minutes past every hour"},
		{"cron(0,30 1 * * ? *)", "at 01:00 and 01:30 every day"},
		{"cron(0 8,12,17 * * ? *)", "at 08:00, 12:00 and 17:00 every day"},
		{"cron(0 3 1 1,7 ? *)", "at 03:00 on day 1 of the month in January and July"},
		{"cron(0 3 * JAN-MAR ? 2026)", "at 03:00 every day in January through March in 2026"},
		{"cron(0 3 ? * L *)", "at 03:00 on Saturday"},
		{"cron(0,20,40 1-3 * * ? *)", "every 20 minutes from 01:00 to 03:40"},
		{"cron(0,10,40 1-3 * * ? *)", "at minutes 0, 10 and 40 past hours 1 through 3"},
		{"cron(5,25 * * * ? *)", "at minutes 5 and 25 of every hour"},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.expr).Describe(); got != tt.want {
			t.Errorf("Describe(%s) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}
