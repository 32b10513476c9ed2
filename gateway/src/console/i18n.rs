//! The console's words in zh-CN and en. The table is an enum, so a missing text is a compile
//! error, not a blank on a page.

use axum::http::HeaderMap;

/// The reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 简体中文.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The `lang` attribute of the page.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The short code used in the language cookie and switch links.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// True for Chinese (the shape the alarm-text helpers take).
    pub fn zh(self) -> bool {
        self == Lang::Zh
    }

    /// From a cookie value or a switch link.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language cookie if set, else the best of `Accept-Language`, else Chinese.
    pub fn of(headers: &HeaderMap) -> Lang {
        super::session::cookie(headers, LANG_COOKIE)
            .and_then(|c| Lang::from_code(&c))
            .or_else(|| {
                headers
                    .get(axum::http::header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(accept_language)
            })
            .unwrap_or(Lang::Zh)
    }

    /// A text in this language.
    pub fn t(self, text: T) -> &'static str {
        let (zh, en) = text.pair();
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// The cookie that remembers a chosen language.
pub const LANG_COOKIE: &str = "linli_lang";

/// The first of zh / en by the header's preference (`q` weights, then order).
pub fn accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(f32, Lang)> = None;
    for part in header.split(',') {
        let mut fields = part.split(';');
        let tag = fields.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = fields
            .find_map(|f| f.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = if tag == "zh" || tag.starts_with("zh-") {
            Lang::Zh
        } else if tag == "en" || tag.starts_with("en-") {
            Lang::En
        } else {
            continue;
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

macro_rules! texts {
    ($($key:ident => $zh:literal, $en:literal;)*) => {
        /// A text of the console.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum T { $($key),* }

        impl T {
            /// (zh-CN, en).
            pub fn pair(self) -> (&'static str, &'static str) {
                match self { $(T::$key => ($zh, $en)),* }
            }
        }
    };
}

texts! {
    Console => "值班台", "Console";
    Alarms => "报警", "Alarms";
    Devices => "设备", "Devices";
    Households => "住户", "Households";
    Audit => "操作记录", "Audit";
    Integrator => "接入调试", "Integration";
    Logout => "退出", "Sign out";
    Login => "登录", "Sign in";
    LoginTitle => "值班台登录", "Sign in to the console";
    LoginHint => "请输入您的员工令牌。", "Enter your staff token.";
    Token => "员工令牌", "Staff token";
    LoginFailed => "令牌无效，请重试。", "That token is not valid. Try again.";
    OpenAlarms => "未处理报警", "Open alarms";
    NoOpenAlarms => "当前没有未处理的报警。", "No open alarms.";
    NewCritical => "紧急报警待接单", "critical alarm waiting";
    Live => "实时", "Live";
    Offline => "离线", "Offline";
    Online => "在线", "Online";
    Reconnecting => "正在重连…", "Reconnecting…";
    Sound => "提示音", "Sound";
    Severity => "级别", "Severity";
    What => "报警", "Alarm";
    Where => "位置", "Location";
    Device => "设备", "Device";
    Raised => "报警时间", "Raised";
    OpenFor => "已持续", "Open for";
    Count => "次数", "Count";
    Status => "状态", "Status";
    AckedBy => "接单人", "Acknowledged by";
    StatusOpen => "待接单", "Open";
    StatusAcked => "已接单", "Acknowledged";
    StatusResolved => "已处理", "Resolved";
    Note => "备注", "Note";
    NotePlaceholder => "例如：已电话联系，正在前往", "e.g. called the resident, on my way";
    NoteRequired => "处理完毕需要填写备注。", "Resolving this alarm needs a note.";
    Acknowledge => "接单", "Acknowledge";
    Resolve => "处理完毕", "Resolve";
    Timeline => "处理过程", "Timeline";
    Back => "返回", "Back";
    Detail => "详情", "Detail";
    By => "执行人", "By";
    When => "时间", "When";
    Action => "操作", "Action";
    AlarmId => "报警编号", "Alarm id";
    Filter => "筛选", "Filter";
    Clear => "清除", "Clear";
    All => "全部", "All";
    Kind => "类型", "Kind";
    Building => "楼栋", "Building";
    State => "状态", "State";
    Battery => "电量", "Battery";
    LastSeen => "最后上报", "Last seen";
    LastValues => "最新数值", "Last values";
    Telemetry => "近期数据", "Recent telemetry";
    NoTelemetry => "暂无数据。", "No telemetry yet.";
    Events => "近期事件", "Recent events";
    NoEvents => "暂无事件。", "No events yet.";
    Model => "型号", "Model";
    Firmware => "固件", "Firmware";
    Signal => "信号", "Signal";
    Messages => "消息数", "Messages";
    NoDevices => "没有符合条件的设备。", "No devices match.";
    Household => "住户", "Household";
    LivingAlone => "独居", "Living alone";
    Residents => "居民", "Residents";
    LastActivity => "最后活动", "Last activity";
    Wellness => "状态", "Wellness";
    Inactive => "长时间无活动", "No activity";
    LowWater => "用水偏少", "Low water use";
    Normal => "正常", "Normal";
    Away => "外出模式", "Away mode";
    AwayUntil => "外出至", "Away until";
    AwayOn24 => "外出 24 小时", "Away 24 h";
    AwayOn72 => "外出 3 天", "Away 3 days";
    AwayOff => "已回家", "Back home";
    Yes => "是", "Yes";
    No => "否", "No";
    NoHouseholds => "没有可查看的住户。", "No households to show.";
    Actor => "执行人", "Actor";
    NoAudit => "没有符合条件的记录。", "No matching records.";
    Rejected => "被拒绝的消息", "Rejected payloads";
    Reason => "原因", "Reason";
    Topic => "主题", "Topic";
    Payload => "内容", "Payload";
    NoRejected => "没有被拒绝的消息。", "No rejected payloads.";
    Unplaced => "待登记位置的设备", "Devices waiting to be placed";
    NoUnplaced => "所有设备都已登记位置。", "Every device has a location.";
    FirstSeen => "首次出现", "First seen";
    NotFound => "未找到", "Not found";
    NotFoundText => "没有这条记录，或者您无权查看。", "It does not exist, or it is not in your areas.";
    Forbidden => "无权访问", "Not allowed";
    ForbiddenText => "此页面仅对负责全社区的角色开放。", "This page is for roles that see the whole site.";
    Failed => "操作未完成", "Not done";
    TimesIn => "时间均为社区时区", "Times are in the site's zone";
    Language => "English", "中文";
    Showing => "显示", "Showing";
    Of => "共", "of";
    Newest => "最新在前", "newest first";
    Ago => "前", "ago";
    Minutes => "分钟", "min";
    Hours => "小时", "h";
    Days => "天", "d";
    Seconds => "秒", "s";
    Open => "打开", "Open";
    SkipToContent => "跳到正文", "Skip to content";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_the_highest_weight_of_zh_and_en() {
        assert_eq!(accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::Zh));
        assert_eq!(accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(accept_language("fr, en;q=0.5, zh;q=0.7"), Some(Lang::Zh));
        assert_eq!(accept_language("de, fr"), None);
        assert_eq!(accept_language("zh;q=0, en;q=0.1"), Some(Lang::En));
    }

    #[test]
    fn every_text_has_both_languages() {
        for t in [T::Alarms, T::Acknowledge, T::Open, T::NewCritical] {
            let (zh, en) = t.pair();
            assert!(!zh.is_empty() && !en.is_empty());
            assert_ne!(zh, en);
        }
    }
}
